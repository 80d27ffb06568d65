//! Authorization of blob requests: bearer tokens, SAS, Shared Key or none.

mod bearer;
mod sas;
mod shared_key;

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use secrecy::{ExposeSecret, SecretString};

use crate::{Error, Result};

pub use sas::AccountSas;
pub(crate) use shared_key::SharedKeySigner;

/// The OAuth scope of the Blob service data plane.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The authorization of a [`BlobStore`](super::BlobStore)'s requests.
#[derive(Clone)]
pub enum BlobAuth {
    /// Bearer tokens for [`STORAGE_SCOPE`] from an Entra ID credential, such as the ones in
    /// [`crate::auth`]. Requires an `https` account URL.
    Credential(Arc<dyn TokenCredential>),
    /// A SAS query string (`sv=...&sig=...`, without the leading `?`) appended to every
    /// request.
    Sas(SecretString),
    /// The account name and base64 account key, signing every request with Shared Key.
    SharedKey {
        /// The storage account name.
        account: String,
        /// The base64 account key as the portal shows it.
        key: SecretString,
    },
    /// No authorization, for containers with public read access.
    Anonymous,
}

impl BlobAuth {
    /// Creates Shared Key authorization from an account name and a base64 account key.
    pub fn shared_key(account: impl Into<String>, key: impl Into<String>) -> Self {
        Self::SharedKey {
            account: account.into(),
            key: SecretString::from(key.into()),
        }
    }

    /// Creates SAS authorization from a query string, with or without the leading `?`.
    pub fn sas(query: impl AsRef<str>) -> Self {
        let query = query.as_ref().trim_start_matches('?');
        Self::Sas(SecretString::from(query.to_owned()))
    }

    /// Returns the kind of authorization as a short name for logs: `credential`, `sas`,
    /// `shared-key` or `anonymous`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Credential(_) => "credential",
            Self::Sas(_) => "sas",
            Self::SharedKey { .. } => "shared-key",
            Self::Anonymous => "anonymous",
        }
    }
}

impl fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Credential(credential) => f.debug_tuple("Credential").field(credential).finish(),
            Self::Sas(_) => f.write_str("Sas(<redacted>)"),
            Self::SharedKey { account, .. } => f
                .debug_struct("SharedKey")
                .field("account", account)
                .field("key", &"<redacted>")
                .finish(),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// The prepared form of a [`BlobAuth`] that the request pipeline applies to each attempt.
pub(crate) enum Authorizer {
    Bearer(bearer::BearerAuth),
    Sas(SecretString),
    SharedKey(SharedKeySigner),
    Anonymous,
}

impl Authorizer {
    /// Prepares `auth` for an account, checking what can be checked before any request.
    pub(crate) fn new(auth: BlobAuth, account: Option<&str>, https: bool) -> Result<Self> {
        match auth {
            BlobAuth::Credential(credential) => {
                if !https {
                    return Err(Error::invalid_input(
                        "bearer tokens are only sent over https: use an https account URL, \
                         or Shared Key or SAS with a local http emulator",
                    ));
                }
                Ok(Self::Bearer(bearer::BearerAuth::new(credential)))
            }
            BlobAuth::Sas(query) => {
                if query.expose_secret().is_empty() {
                    return Err(Error::invalid_input(
                        "SAS query is empty: pass the query string of a SAS URL",
                    ));
                }
                Ok(Self::Sas(query))
            }
            BlobAuth::SharedKey {
                account: key_account,
                key,
            } => {
                if let Some(url_account) = account
                    && url_account != key_account
                {
                    return Err(Error::invalid_input(format!(
                        "Shared Key account {key_account:?} differs from the account \
                         {url_account:?} in the URL: pass the key of that account"
                    )));
                }
                Ok(Self::SharedKey(SharedKeySigner::new(&key_account, &key)?))
            }
            BlobAuth::Anonymous => Ok(Self::Anonymous),
        }
    }

    /// Authorizes one request attempt; call after all other headers are set.
    pub(crate) async fn authorize(&self, request: &mut reqwest::Request) -> Result<()> {
        match self {
            Self::Bearer(bearer) => {
                let value = bearer.header_value().await?;
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
            }
            Self::Sas(query) => {
                let url = request.url_mut();
                let merged = match url.query() {
                    Some(existing) if !existing.is_empty() => {
                        format!("{existing}&{}", query.expose_secret())
                    }
                    _ => query.expose_secret().to_owned(),
                };
                url.set_query(Some(&merged));
            }
            Self::SharedKey(signer) => signer.sign(request)?,
            Self::Anonymous => {}
        }
        Ok(())
    }

    /// Drops a cached bearer token, after the service rejected it with 401.
    pub(crate) fn invalidate_token(&self) {
        if let Self::Bearer(bearer) = self {
            bearer.invalidate();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn request(url: &str) -> reqwest::Request {
        reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap())
    }

    #[tokio::test]
    async fn sas_is_appended_to_existing_query() {
        let authorizer = Authorizer::new(BlobAuth::sas("?sv=1&sig=abc%2B"), None, true).unwrap();
        let mut with_query = request("https://acct.blob.core.windows.net/c?restype=container");
        authorizer.authorize(&mut with_query).await.unwrap();
        assert_eq!(
            with_query.url().query(),
            Some("restype=container&sv=1&sig=abc%2B")
        );

        let mut without_query = request("https://acct.blob.core.windows.net/c/b");
        authorizer.authorize(&mut without_query).await.unwrap();
        assert_eq!(without_query.url().query(), Some("sv=1&sig=abc%2B"));
    }

    #[test]
    fn empty_sas_is_rejected() {
        let error = Authorizer::new(BlobAuth::sas("?"), None, true)
            .err()
            .unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn shared_key_account_must_match_url() {
        let auth = BlobAuth::shared_key("other", "a2V5");
        let error = Authorizer::new(auth, Some("acct"), true).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.message().contains("\"other\""), "{}", error.message());
    }

    #[test]
    fn debug_hides_secrets() {
        let key = BlobAuth::shared_key("acct", "c2VjcmV0LWtleQ==");
        let text = format!("{key:?}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert!(text.contains("acct"), "{text}");
        let sas = format!("{:?}", BlobAuth::sas("sv=1&sig=topsecret"));
        assert!(!sas.contains("topsecret"), "{sas}");
    }
}
