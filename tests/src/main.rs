//! `elb-test-servers`: starts the requested loopback test servers, prints one line of JSON
//! describing them, and runs until SIGTERM, SIGINT or the end of stdin.
//!
//! The JSON line has `ca_cert`, the PEM file of the test authority that signed every HTTPS
//! server's certificate, and one object per started server kind, such as
//! `{"ca_cert": "/tmp/.../ca.pem", "azurite": {"blob_endpoint": ..., "account": ...,
//! "key": ..., "connection_string": ..., "https": true}}`.
//!
//! The program stops when its stdin reaches end of file, so a parent that owns the write
//! end of a pipe takes it down even when the parent is killed. Run it with `< /dev/null`
//! only to check the start-up, because it then stops at once.
//!
//! To add a server kind: add a field to [`Args`], a flag in [`Args::parse`] and [`USAGE`],
//! and a `start_*` function called from [`start_servers`] that returns the JSON object and
//! keeps the server's handle in [`Running`].

use std::any::Any;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use elb_test_servers::azurite::{Azurite, AzuriteMode};
use elb_test_servers::entra::{EntraConfig, EntraServer};
use elb_test_servers::msi::{ManagedIdentityConfig, ManagedIdentityServer};
use elb_test_servers::tls::TestCa;
use serde_json::{Map, Value, json};

const USAGE: &str = "\
Usage: elb-test-servers [OPTIONS]

Starts loopback test servers, prints one line of JSON that describes them, and runs until
SIGTERM, SIGINT or the end of stdin.

Options:
  --azurite http|https  Start Azurite's blob service over HTTP, or over HTTPS with bearer
                        tokens accepted (--oauth basic)
  --entra CONFIG.json   Start the test Entra ID token service over HTTPS, with the tenants
                        and app registrations in CONFIG.json
  --msi                 Start the test managed identity service over HTTP, with the IMDS
                        and App Service endpoints and a sample set of identities
  --kube                Start the test Kubernetes API server (HTTPS, bearer token), with
                        its job controller stepping every 200 ms
  -h, --help            Print this help
";

/// The command-line options.
#[derive(Debug, Default, PartialEq)]
struct Args {
    /// The scheme of Azurite's blob endpoint, when Azurite is requested.
    azurite: Option<Scheme>,
    /// The configuration file of the test Entra ID token service, when it is requested.
    entra: Option<PathBuf>,
    /// Whether the test managed identity service is requested.
    msi: bool,
    /// Whether to start the test Kubernetes API server.
    kube: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scheme {
    Http,
    Https,
}

/// What the command line requests.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Args),
    Help,
}

impl Args {
    /// Parses the arguments after the program name.
    fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Command, String> {
        let mut args = Args::default();
        let mut arguments = arguments.into_iter();
        while let Some(argument) = arguments.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline_value) = match argument.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_string(), Some(value.to_string()))
                }
                _ => (argument.clone(), None),
            };
            let mut value = |name: &str| {
                inline_value
                    .clone()
                    .or_else(|| arguments.next())
                    .ok_or_else(|| format!("missing value for {name}"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Command::Help),
                "--azurite" => {
                    let scheme = value("--azurite")?;
                    args.azurite = Some(match scheme.as_str() {
                        "http" => Scheme::Http,
                        "https" => Scheme::Https,
                        other => {
                            return Err(format!(
                                "invalid value {other:?} for --azurite: use http or https"
                            ));
                        }
                    });
                }
                "--kube" => args.kube = true,
                "--entra" => args.entra = Some(PathBuf::from(value("--entra")?)),
                "--msi" => args.msi = true,
                other => return Err(format!("unknown option {other:?}: see --help")),
            }
        }
        Ok(Command::Run(args))
    }
}

/// The handles of the started servers; dropping them stops the servers.
#[derive(Default)]
struct Running {
    handles: Vec<Box<dyn Any + Send>>,
}

impl Running {
    fn keep(&mut self, handle: impl Any + Send) {
        self.handles.push(Box::new(handle));
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("elb-test-servers: {message}");
            return ExitCode::from(2);
        }
    };

    let ca = match TestCa::generate() {
        Ok(ca) => ca,
        Err(error) => {
            eprintln!("elb-test-servers: failed to generate the test CA: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut running = Running::default();
    let description = match start_servers(&args, &ca, &mut running).await {
        Ok(description) => description,
        Err(error) => {
            eprintln!("elb-test-servers: {error}");
            return ExitCode::FAILURE;
        }
    };

    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{description}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        eprintln!("elb-test-servers: failed to write the server description to stdout");
        return ExitCode::FAILURE;
    }
    drop(stdout);

    let reason = wait_for_stop().await;
    tracing::info!(reason, "stopping test servers");
    // Dropping the handles stops the servers, Azurite with SIGTERM.
    drop(running);
    drop(ca);
    ExitCode::SUCCESS
}

/// Starts every requested server and returns the JSON description to print.
async fn start_servers(args: &Args, ca: &TestCa, running: &mut Running) -> std::io::Result<Value> {
    let mut description = Map::new();
    description.insert(
        "ca_cert".to_string(),
        Value::String(ca.cert_path().display().to_string()),
    );
    if let Some(scheme) = args.azurite {
        description.insert(
            "azurite".to_string(),
            start_azurite(scheme, ca, running).await?,
        );
    }
    if args.kube {
        description.insert("kube".to_string(), start_kube(ca, running).await?);
    }
    if let Some(path) = &args.entra {
        description.insert("entra".to_string(), start_entra(path, ca, running).await?);
    }
    if args.msi {
        description.insert("msi".to_string(), start_msi(running).await?);
    }
    Ok(Value::Object(description))
}

/// Starts the test Entra ID token service with the configuration in the JSON file `path`.
async fn start_entra(path: &Path, ca: &TestCa, running: &mut Running) -> std::io::Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "failed to read the --entra file {}: {error}",
                path.display()
            ),
        )
    })?;
    let config: EntraConfig = serde_json::from_str(&text).map_err(|error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "invalid --entra file {}: {error}; expected JSON like \
                 {{\"tenants\": [\"t\"], \"apps\": [{{\"tenant\": \"t\", \"client_id\": \"c\"}}]}}",
                path.display()
            ),
        )
    })?;
    let server = EntraServer::start(ca, config).await?;
    tracing::info!(authority_host = %server.authority_host(), "Entra ID token service started");
    let description = server.description();
    running.keep(server);
    Ok(description)
}

/// Starts the test managed identity service with its sample identities.
async fn start_msi(running: &mut Running) -> std::io::Result<Value> {
    let server = ManagedIdentityServer::start(ManagedIdentityConfig::sample()).await?;
    tracing::info!(url = %server.url(), "managed identity service started");
    let description = server.description();
    running.keep(server);
    Ok(description)
}

/// Starts the test Kubernetes API server with its controller stepping on a timer, and writes
/// a kubeconfig for the `default` namespace next to the CA certificate.
async fn start_kube(ca: &TestCa, running: &mut Running) -> std::io::Result<Value> {
    let server = elb_test_servers::kube::KubeApiServer::start(ca).await?;
    let kubeconfig = ca.dir().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig, "default")?;
    tracing::info!(url = %server.url(), "Kubernetes API server started");
    let description = json!({
        "url": server.url(),
        "token": server.token(),
        "kubeconfig": kubeconfig.display().to_string(),
    });
    running.keep(
        server
            .controller()
            .start_ticking(std::time::Duration::from_millis(200)),
    );
    running.keep(server);
    Ok(description)
}

async fn start_azurite(
    scheme: Scheme,
    ca: &TestCa,
    running: &mut Running,
) -> std::io::Result<Value> {
    let mode = match scheme {
        Scheme::Http => AzuriteMode::Http,
        Scheme::Https => AzuriteMode::HttpsOAuth(ca),
    };
    let azurite = Azurite::start(mode).await?;
    tracing::info!(endpoint = %azurite.blob_endpoint(), "Azurite started");
    let description = json!({
        "blob_endpoint": azurite.blob_endpoint(),
        "account": azurite.account_name(),
        "key": azurite.account_key(),
        "connection_string": azurite.connection_string(),
        "https": azurite.is_https(),
    });
    running.keep(azurite);
    Ok(description)
}

/// Waits for SIGTERM, SIGINT or the end of stdin and returns which one came.
async fn wait_for_stop() -> &'static str {
    let mut terminate = match tokio::signal::unix::signal(
        tokio::signal::unix::SignalKind::terminate(),
    ) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "failed to listen for SIGTERM; stopping on SIGINT or end of stdin only");
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                () = stdin_closed() => "end of stdin",
            };
        }
    };
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = stdin_closed() => "end of stdin",
    }
}

/// Waits until stdin reaches end of file or fails to read.
///
/// A plain thread reads stdin because a blocking read on tokio's stdin would keep the runtime
/// from shutting down.
async fn stdin_closed() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = std::thread::Builder::new()
        .name("stdin-watch".to_string())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buffer = [0u8; 1024];
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "reading stdin failed; treating it as closed");
                        break;
                    }
                }
            }
            let _ = closed_tx.send(());
        });
    match reader {
        Ok(_) => {
            let _ = closed_rx.await;
        }
        Err(error) => {
            tracing::warn!(%error, "failed to start the stdin reader; stopping on signals only");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Command, String> {
        Args::parse(arguments.iter().map(|argument| argument.to_string()))
    }

    #[test]
    fn azurite_flag_takes_scheme() {
        let expected = Command::Run(Args {
            azurite: Some(Scheme::Https),
            ..Args::default()
        });
        assert_eq!(parse(&["--azurite", "https"]), Ok(expected));
        let expected = Command::Run(Args {
            azurite: Some(Scheme::Http),
            ..Args::default()
        });
        assert_eq!(parse(&["--azurite=http"]), Ok(expected));
    }

    #[test]
    fn kube_flag_starts_kube() {
        let expected = Command::Run(Args {
            kube: true,
            ..Args::default()
        });
        assert_eq!(parse(&["--kube"]), Ok(expected));
    }

    #[test]
    fn identity_flags_are_parsed() {
        let expected = Command::Run(Args {
            entra: Some(PathBuf::from("entra.json")),
            msi: true,
            ..Args::default()
        });
        assert_eq!(parse(&["--entra", "entra.json", "--msi"]), Ok(expected));
        let error = parse(&["--entra"]).unwrap_err();
        assert!(error.contains("missing value for --entra"), "{error}");
    }

    #[test]
    fn no_flags_start_nothing() {
        assert_eq!(parse(&[]), Ok(Command::Run(Args::default())));
    }

    #[test]
    fn help_flag_requests_usage() {
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments_are_rejected() {
        let error = parse(&["--azurite", "ftp"]).unwrap_err();
        assert!(error.contains("\"ftp\""), "{error}");
        assert!(error.contains("http or https"), "{error}");

        let error = parse(&["--azurite"]).unwrap_err();
        assert!(error.contains("missing value for --azurite"), "{error}");

        let error = parse(&["--bogus"]).unwrap_err();
        assert!(error.contains("--bogus"), "{error}");
    }
}
