//! TLS trust for elb's HTTP clients: the system roots plus extra root certificates from an
//! option or from `SSL_CERT_FILE`.

use std::path::{Path, PathBuf};
use std::sync::Once;

use crate::env::EnvSource;
use crate::{Error, Result};

/// Installs the aws-lc-rs crypto provider as the process default for rustls.
///
/// Both the Azure crates and kube use rustls; kube builds its TLS configuration from the
/// process default, which must be set once before the first client is built. Calling this
/// more than once, or after another provider was installed, has no effect.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is already installed, which is what we need.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Extra root certificates that elb's HTTP clients trust besides the system roots.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    extra_roots_pem: Vec<Vec<u8>>,
    sources: Vec<PathBuf>,
}

impl TlsOptions {
    /// Creates options that trust only the system roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates options from `SSL_CERT_FILE` when it is set.
    ///
    /// # Errors
    ///
    /// Fails when `SSL_CERT_FILE` names a file that cannot be read or contains no certificate.
    pub fn from_env(env: &dyn EnvSource) -> Result<Self> {
        let mut options = Self::new();
        if let Some(path) = crate::env::non_empty(env, "SSL_CERT_FILE") {
            options = options.with_root_certificate_file(path)?;
        }
        Ok(options)
    }

    /// Adds root certificates from PEM text (one or more `CERTIFICATE` blocks).
    ///
    /// # Errors
    ///
    /// Fails when the text contains no PEM certificate.
    pub fn with_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Result<Self> {
        let pem = pem.into();
        if reqwest::Certificate::from_pem_bundle(&pem)
            .map(|certs| certs.is_empty())
            .unwrap_or(true)
        {
            return Err(Error::invalid_input(
                "root certificate is not a PEM certificate: pass text with a \
                 -----BEGIN CERTIFICATE----- block",
            ));
        }
        self.extra_roots_pem.push(pem);
        Ok(self)
    }

    /// Adds root certificates from a PEM file.
    ///
    /// # Errors
    ///
    /// Fails when the file cannot be read or contains no PEM certificate.
    pub fn with_root_certificate_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|error| {
            Error::invalid_input(format!(
                "cannot read root certificate file {}: check the path",
                path.display()
            ))
            .with_source(error)
        })?;
        let mut options = self.with_root_certificate_pem(pem).map_err(|error| {
            Error::invalid_input(format!(
                "root certificate file {} contains no PEM certificate",
                path.display()
            ))
            .with_source(error)
        })?;
        options.sources.push(path.to_path_buf());
        Ok(options)
    }

    /// Returns the extra roots as PEM documents.
    pub fn extra_roots_pem(&self) -> &[Vec<u8>] {
        &self.extra_roots_pem
    }

    /// Applies the extra roots to a reqwest client builder.
    ///
    /// # Errors
    ///
    /// Fails when a stored PEM document cannot be parsed.
    pub fn apply(&self, mut builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        install_crypto_provider();
        for pem in &self.extra_roots_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|error| {
                Error::invalid_input("invalid root certificate").with_source(error)
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(builder)
    }

    /// Builds a reqwest client that trusts the system roots and the extra roots.
    ///
    /// # Errors
    ///
    /// Fails when a stored PEM document cannot be parsed or the client cannot be built.
    pub fn http_client(&self) -> Result<reqwest::Client> {
        self.apply(reqwest::Client::builder())?
            .build()
            .map_err(|error| {
                Error::new(crate::ErrorKind::Transport, "cannot build HTTP client")
                    .with_source(error)
            })
    }
}
