//! A test certificate authority generated at start-up, and leaf certificates it signs for
//! loopback servers.
//!
//! rustls rejects a self-signed certificate that is also a CA as a server certificate, so the
//! servers present a leaf signed by this authority and clients trust the authority.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority for tests, with its certificate written to a PEM file.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    dir: tempfile::TempDir,
}

/// A leaf certificate and key for a server on 127.0.0.1 and `localhost`.
#[derive(Clone)]
pub struct LeafCert {
    /// The certificate in PEM form.
    pub cert_pem: String,
    /// The private key in PKCS #8 PEM form.
    pub key_pem: String,
    /// The path of the certificate file.
    pub cert_path: PathBuf,
    /// The path of the key file.
    pub key_path: PathBuf,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestCa {
    /// Generates a new authority and writes its certificate to a temporary folder.
    pub fn generate() -> std::io::Result<Self> {
        let key = KeyPair::generate().map_err(std::io::Error::other)?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(std::io::Error::other)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "elb test certificate authority");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(std::io::Error::other)?;
        let cert_pem = cert.pem();
        let dir = tempfile::Builder::new().prefix("elb-test-ca-").tempdir()?;
        std::fs::write(dir.path().join("ca.pem"), &cert_pem)?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem,
            dir,
        })
    }

    /// Returns the authority's certificate in PEM form.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Returns the path of the authority's PEM file, for `SSL_CERT_FILE`,
    /// `REQUESTS_CA_BUNDLE` or `--cacert`.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Returns the folder that holds the authority's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Issues a leaf certificate for `127.0.0.1`, `::1` and `localhost`, written to files
    /// named after `name` in the authority's folder.
    pub fn issue_leaf(&self, name: &str) -> std::io::Result<LeafCert> {
        let key = KeyPair::generate().map_err(std::io::Error::other)?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).map_err(std::io::Error::other)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(std::io::Error::other)?;
        let cert_path = self.dir.path().join(format!("{name}.pem"));
        let key_path = self.dir.path().join(format!("{name}-key.pem"));
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        std::fs::write(&cert_path, &cert_pem)?;
        std::fs::write(&key_path, &key_pem)?;
        Ok(LeafCert {
            cert_pem,
            key_pem,
            cert_path,
            key_path,
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }
}

impl LeafCert {
    /// Builds a rustls server configuration that presents this certificate, offering
    /// HTTP/1.1 and, when `http2` is true, HTTP/2.
    pub fn server_config(&self, http2: bool) -> std::io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .map_err(std::io::Error::other)?;
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Arc::new(config))
    }
}
