//! The proxy's client-facing TCP stream, which can end with a reset instead of a close.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A flag that a request handler sets so that its connection ends with a TCP reset.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResetFlag(Arc<AtomicBool>);

impl ResetFlag {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A TCP stream that, once its [`ResetFlag`] is set, skips the orderly shutdown and closes
/// with `SO_LINGER` 0, so the kernel sends RST instead of FIN.
pub(crate) struct FrontStream {
    inner: TcpStream,
    reset: ResetFlag,
}

impl FrontStream {
    pub(crate) fn new(inner: TcpStream, reset: ResetFlag) -> Self {
        Self { inner, reset }
    }
}

impl Drop for FrontStream {
    fn drop(&mut self) {
        if self.reset.is_set()
            && let Err(error) = self.inner.set_zero_linger()
        {
            tracing::debug!(%error, "cannot set SO_LINGER 0 for a reset");
        }
    }
}

impl AsyncRead for FrontStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FrontStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.is_set() {
            // A FIN now would let the client see an orderly end; the reset happens on drop.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
