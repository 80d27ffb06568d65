//! The end of an example: exit 0, exit 2 with the missing configuration, or exit 1 with the
//! error and its causes.

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Missing;

/// Exit code of an example whose configuration is missing or invalid.
pub const EXIT_CONFIG: u8 = 2;

/// Exit code of an example whose work failed.
pub const EXIT_FAILED: u8 = 1;

/// The reason an example stopped.
#[derive(Debug)]
pub enum ExampleError {
    /// Settings are missing; nothing was sent anywhere.
    Missing(Missing),
    /// An elb operation failed.
    Failed(elb_core::Error),
    /// Anything else, such as a local file that cannot be written.
    Other(String),
}

impl fmt::Display for ExampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(missing) => write!(f, "{missing}"),
            Self::Failed(error) => write!(f, "{error}"),
            Self::Other(message) => f.write_str(message),
        }
    }
}

impl From<Missing> for ExampleError {
    fn from(missing: Missing) -> Self {
        Self::Missing(missing)
    }
}

impl From<elb_core::Error> for ExampleError {
    fn from(error: elb_core::Error) -> Self {
        Self::Failed(error)
    }
}

impl From<std::io::Error> for ExampleError {
    fn from(error: std::io::Error) -> Self {
        Self::Other(error.to_string())
    }
}

/// Runs an example's `main` on a tokio runtime and turns its outcome into an exit code.
///
/// Logs go to stderr through `tracing` when `RUST_LOG` is set, such as `RUST_LOG=elb_core=debug`.
pub fn run<F>(main: F) -> ExitCode
where
    F: Future<Output = Result<(), ExampleError>>,
{
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    elb_core::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the tokio runtime: {error}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(ExampleError::Missing(missing)) => {
            eprintln!("{missing}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(error) => {
            eprintln!("error: {error}");
            if let ExampleError::Failed(error) = &error {
                for cause in distinct_causes(error) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Returns the texts of the causes of `error`, leaving out each one whose text equals the
/// error's message or a cause already listed, because some libraries wrap an error in
/// another with the same text.
fn distinct_causes(error: &elb_core::Error) -> Vec<String> {
    let mut printed = vec![error.to_string(), error.message().to_owned()];
    let mut causes = Vec::new();
    let mut cause = std::error::Error::source(error);
    while let Some(current) = cause {
        let text = current.to_string();
        if !printed.contains(&text) {
            causes.push(text.clone());
            printed.push(text);
        }
        cause = current.source();
    }
    causes
}

/// Formats a byte count with a binary unit, such as `3.7 MiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Formats a duration in seconds with two decimals, such as `0.42 s`.
pub fn format_duration(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(4 * 1024 * 1024), "4.0 MiB");
    }

    /// An error with a fixed text and an optional cause.
    #[derive(Debug)]
    struct Text(&'static str, Option<Box<Text>>);

    impl fmt::Display for Text {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Text {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|source| source as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn causes_skip_repeated_text() {
        let inner = Text("connection refused", None);
        let wrapper = Text("connection refused", Some(Box::new(inner)));
        let middle = Text("cannot list pods", Some(Box::new(wrapper)));
        let outer = Text("cannot reach the cluster", Some(Box::new(middle)));
        let error =
            elb_core::Error::new(elb_core::ErrorKind::Transport, "cannot reach the cluster")
                .with_source(outer);
        assert_eq!(
            distinct_causes(&error),
            vec!["cannot list pods", "connection refused"]
        );
    }

    #[test]
    fn causes_keep_distinct_text() {
        let error = elb_core::Error::new(elb_core::ErrorKind::Service, "put blob failed")
            .with_status(500)
            .with_source(Text("internal error", None));
        assert_eq!(distinct_causes(&error), vec!["internal error"]);
    }

    #[test]
    fn durations_have_two_decimals() {
        assert_eq!(format_duration(Duration::from_millis(1234)), "1.23 s");
    }
}
