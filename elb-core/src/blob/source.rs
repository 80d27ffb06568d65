//! Upload sources: bytes in memory, a file read at offsets, or an async reader.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::{Error, ErrorKind, Result};

pub(crate) enum Source {
    Bytes(Bytes),
    /// A file, with its size and modification time when the upload started.
    File {
        file: Arc<std::fs::File>,
        path: PathBuf,
        size: u64,
        modified: Option<SystemTime>,
    },
    Reader(Box<dyn AsyncRead + Send + Unpin>),
    /// A reader whose first block was already read.
    ReaderWithFirst {
        first: Option<BytesMut>,
        reader: Box<dyn AsyncRead + Send + Unpin>,
    },
}

impl Source {
    /// Returns the content size when it is known up front.
    pub(crate) fn size(&self) -> Option<u64> {
        match self {
            Self::Bytes(data) => Some(data.len() as u64),
            Self::File { size, .. } => Some(*size),
            Self::Reader(_) | Self::ReaderWithFirst { .. } => None,
        }
    }

    /// Reads the whole content of a source with a known size.
    pub(crate) async fn read_all(&mut self) -> Result<Bytes> {
        match self {
            Self::Bytes(data) => Ok(data.clone()),
            Self::File { size, .. } => {
                let size = *size;
                Ok(self
                    .read_block(BytesMut::with_capacity(size as usize), 0, size)
                    .await?
                    .freeze())
            }
            _ => unreachable!("read_all is only called on sources of known size"),
        }
    }

    /// Returns a block read from the first block of a reader to the source.
    pub(crate) fn push_back(&mut self, first: BytesMut) {
        let source = std::mem::replace(self, Self::Bytes(Bytes::new()));
        *self = match source {
            Self::Reader(reader) => Self::ReaderWithFirst {
                first: Some(first),
                reader,
            },
            other => other,
        };
    }

    /// Reads up to `length` bytes at `offset` into `buffer` (cleared first); fewer bytes
    /// mean the content ended. Readers ignore `offset` and continue where they stopped.
    pub(crate) async fn read_block(
        &mut self,
        mut buffer: BytesMut,
        offset: u64,
        length: u64,
    ) -> Result<BytesMut> {
        buffer.clear();
        match self {
            Self::Bytes(data) => {
                let start = (offset as usize).min(data.len());
                let end = (start + length as usize).min(data.len());
                buffer.extend_from_slice(&data[start..end]);
                Ok(buffer)
            }
            Self::File {
                file, path, size, ..
            } => {
                let file = file.clone();
                let path = path.clone();
                let size = *size;
                let length = length.min(size.saturating_sub(offset)) as usize;
                tokio::task::spawn_blocking(move || {
                    buffer.resize(length, 0);
                    file.read_exact_at(&mut buffer, offset)
                        .map(|()| buffer)
                        .map_err(|error| match error.kind() {
                            std::io::ErrorKind::UnexpectedEof => changed_error(&path, size),
                            _ => file_read_error(&path, error),
                        })
                })
                .await
                .map_err(super::upload::join_error)?
            }
            Self::Reader(reader) => fill(reader, buffer, length as usize).await,
            Self::ReaderWithFirst { first, reader } => match first.take() {
                Some(first) => Ok(first),
                None => fill(reader, buffer, length as usize).await,
            },
        }
    }

    /// Checks that a file still has the size and modification time it had when the upload
    /// started, so that a file written during the upload is not stored as a mix of old and
    /// new content. Other sources always pass.
    ///
    /// NOTE: a change that keeps both the size and the modification time (a rewrite within
    /// the file system's time resolution, or a restored time) is not detected.
    pub(crate) async fn ensure_unchanged(&mut self) -> Result<()> {
        let Self::File {
            file,
            path,
            size,
            modified,
        } = self
        else {
            return Ok(());
        };
        let (file, path, size, modified) = (file.clone(), path.clone(), *size, *modified);
        tokio::task::spawn_blocking(move || {
            let metadata = file
                .metadata()
                .map_err(|error| file_read_error(&path, error))?;
            if metadata.len() != size || metadata.modified().ok() != modified {
                return Err(changed_error(&path, size));
            }
            Ok(())
        })
        .await
        .map_err(super::upload::join_error)?
    }
}

fn changed_error(path: &std::path::Path, size: u64) -> Error {
    Error::new(
        ErrorKind::Integrity,
        format!(
            "file {} changed while it was uploaded (it had {size} bytes at the start): \
             upload it again once no program writes to it",
            path.display()
        ),
    )
    .with_target(path.display().to_string())
}

fn file_read_error(path: &std::path::Path, error: std::io::Error) -> Error {
    Error::invalid_input(format!("cannot read {} for upload", path.display()))
        .with_target(path.display().to_string())
        .with_source(error)
}

async fn fill(
    reader: &mut (dyn AsyncRead + Send + Unpin),
    mut buffer: BytesMut,
    length: usize,
) -> Result<BytesMut> {
    buffer.reserve(length);
    while buffer.len() < length {
        let mut limited = (&mut *reader).take((length - buffer.len()) as u64);
        let read = limited.read_buf(&mut buffer).await.map_err(read_error)?;
        if read == 0 {
            break;
        }
    }
    Ok(buffer)
}

fn read_error(error: std::io::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, "cannot read the upload source").with_source(error)
}
