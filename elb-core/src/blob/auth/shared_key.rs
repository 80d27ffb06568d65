//! Shared Key signing of requests, for service versions 2015-02-21 and later.
//!
//! The signature is `base64(HMAC-SHA256(key, string-to-sign))` where the string to sign is
//! the verb, eleven standard headers, the canonicalized `x-ms-` headers and the
//! canonicalized resource, as the "Authorize with Shared Key" page of the Azure Storage REST
//! documentation defines them.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::{Error, ErrorKind, Result};

/// The standard headers of the string to sign, in order.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// An account name and decoded account key that sign requests.
pub(crate) struct SharedKeySigner {
    account: String,
    key: SecretBox<Vec<u8>>,
}

impl SharedKeySigner {
    /// Decodes the base64 account key.
    pub(crate) fn new(account: &str, key: &SecretString) -> Result<Self> {
        let decoded = STANDARD.decode(key.expose_secret().trim()).map_err(|_| {
            Error::invalid_input(format!(
                "account key of {account:?} is not valid base64: copy key1 or key2 of \
                     the storage account"
            ))
        })?;
        Ok(Self {
            account: account.to_owned(),
            key: SecretBox::new(Box::new(decoded)),
        })
    }

    /// Returns the account name.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// Returns `base64(HMAC-SHA256(key, text))`.
    pub(crate) fn hmac_base64(&self, text: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret())
            .expect("HMAC accepts keys of any length");
        mac.update(text.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Adds the `Authorization: SharedKey` header; the request must already carry
    /// `x-ms-date` and, when it has a body, `Content-Length`.
    pub(crate) fn sign(&self, request: &mut reqwest::Request) -> Result<()> {
        let text = string_to_sign(&self.account, request);
        let signature = self.hmac_base64(&text);
        let mut value = HeaderValue::try_from(format!("SharedKey {}:{signature}", self.account))
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("account name {:?} is not valid in a header", self.account),
                )
            })?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
        Ok(())
    }
}

/// Builds the Shared Key string to sign of a request.
pub(crate) fn string_to_sign(account: &str, request: &reqwest::Request) -> String {
    let headers = request.headers();
    let mut text = String::with_capacity(256);
    text.push_str(request.method().as_str());
    text.push('\n');
    for name in SIGNED_HEADERS {
        let value = headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        // Since version 2015-02-21 a zero Content-Length is signed as an empty string.
        if !(name == "content-length" && value == "0") {
            text.push_str(value);
        }
        text.push('\n');
    }

    let mut ms_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str().to_ascii_lowercase();
        if name.starts_with("x-ms-") {
            let value = value.to_str().unwrap_or("").trim().to_owned();
            ms_headers.insert(name, value);
        }
    }
    for (name, value) in &ms_headers {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }

    text.push('/');
    text.push_str(account);
    text.push_str(request.url().path());
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in request.url().query_pairs() {
        params
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        text.push('\n');
        text.push_str(&name);
        text.push(':');
        text.push_str(&values.join(","));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: reqwest::Method, url: &str, headers: &[(&str, &str)]) -> reqwest::Request {
        let mut request = reqwest::Request::new(method, url.parse().unwrap());
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request
    }

    #[test]
    fn string_to_sign_of_put_block() {
        let request = request(
            reqwest::Method::PUT,
            "http://127.0.0.1:10000/devstoreaccount1/queries/a%20b.fa?comp=block&blockid=QUJD%3D",
            &[
                ("content-length", "3"),
                ("content-md5", "kAFQmDzST7DWlj99KOF/cg=="),
                ("x-ms-version", "2025-11-05"),
                ("x-ms-date", "Fri, 04 Dec 2026 16:00:00 GMT"),
                ("x-ms-client-request-id", " id-1 "),
            ],
        );
        let expected = "PUT\n\n\n3\nkAFQmDzST7DWlj99KOF/cg==\n\n\n\n\n\n\n\n\
            x-ms-client-request-id:id-1\n\
            x-ms-date:Fri, 04 Dec 2026 16:00:00 GMT\n\
            x-ms-version:2025-11-05\n\
            /devstoreaccount1/devstoreaccount1/queries/a%20b.fa\nblockid:QUJD=\ncomp:block";
        assert_eq!(string_to_sign("devstoreaccount1", &request), expected);
    }

    #[test]
    fn zero_content_length_is_signed_empty() {
        let request = request(
            reqwest::Method::PUT,
            "https://acct.blob.core.windows.net/results?restype=container",
            &[("content-length", "0"), ("x-ms-version", "2025-11-05")],
        );
        let text = string_to_sign("acct", &request);
        assert!(text.starts_with("PUT\n\n\n\n"), "{text:?}");
        assert!(
            text.ends_with("/acct/results\nrestype:container"),
            "{text:?}"
        );
    }

    #[test]
    fn repeated_query_values_are_sorted_and_joined() {
        let request = request(
            reqwest::Method::GET,
            "https://acct.blob.core.windows.net/c?comp=list&include=snapshots&include=metadata",
            &[],
        );
        let text = string_to_sign("acct", &request);
        assert!(
            text.ends_with("/acct/c\ncomp:list\ninclude:metadata,snapshots"),
            "{text:?}"
        );
    }

    #[test]
    fn signature_matches_known_hmac() {
        // HMAC-SHA256 with the key "key" over the pangram is a published test vector.
        let key = SecretString::from(STANDARD.encode("key"));
        let signer = SharedKeySigner::new("acct", &key).unwrap();
        let expected = STANDARD.encode(
            hex::decode("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
                .unwrap(),
        );
        assert_eq!(
            signer.hmac_base64("The quick brown fox jumps over the lazy dog"),
            expected
        );
    }

    #[test]
    fn invalid_key_is_rejected_without_echo() {
        let key = SecretString::from("not base64 !!".to_owned());
        let error = SharedKeySigner::new("acct", &key).err().unwrap();
        assert!(error.message().contains("not valid base64"));
        assert!(!error.message().contains("!!"));
    }
}
