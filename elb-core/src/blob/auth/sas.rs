//! Account SAS generation with an account key.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::SecretString;
use time::OffsetDateTime;
use time::macros::format_description;

use super::SharedKeySigner;
use crate::{Error, Result};

/// The settings of an account SAS for the Blob service, signed with an account key.
///
/// The string to sign follows the layout of service version 2020-12-06 and later: account,
/// permissions, services, resource types, start, expiry, IP range, protocol, version and
/// encryption scope, each followed by a newline.
#[derive(Clone, Debug)]
pub struct AccountSas {
    permissions: String,
    resource_types: String,
    start: Option<OffsetDateTime>,
    expiry: OffsetDateTime,
    https_only: bool,
    version: String,
}

impl AccountSas {
    /// Creates a SAS valid until `expiry` with permissions `racwdl` (read, add, create,
    /// write, delete, list) on the service, containers and blobs.
    pub fn new(expiry: OffsetDateTime) -> Self {
        Self {
            permissions: "racwdl".to_owned(),
            resource_types: "sco".to_owned(),
            start: None,
            expiry,
            https_only: false,
            version: super::super::DEFAULT_SERVICE_VERSION.to_owned(),
        }
    }

    /// Sets the permission letters, such as `rl` for read and list.
    pub fn with_permissions(mut self, permissions: impl Into<String>) -> Self {
        self.permissions = permissions.into();
        self
    }

    /// Sets the resource types: `s` (service), `c` (container), `o` (object).
    pub fn with_resource_types(mut self, resource_types: impl Into<String>) -> Self {
        self.resource_types = resource_types.into();
        self
    }

    /// Sets the time from which the SAS is valid.
    pub fn with_start(mut self, start: OffsetDateTime) -> Self {
        self.start = Some(start);
        self
    }

    /// Restricts the SAS to https requests.
    pub fn with_https_only(mut self, https_only: bool) -> Self {
        self.https_only = https_only;
        self
    }

    /// Sets the signed service version (`sv`).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Signs the SAS and returns its query string, without the leading `?`.
    ///
    /// # Errors
    ///
    /// Fails when the key is not valid base64 or a time cannot be formatted.
    pub fn sign(&self, account: &str, key: &SecretString) -> Result<SecretString> {
        let signer = SharedKeySigner::new(account, key)?;
        let start = self.start.map(format_time).transpose()?.unwrap_or_default();
        let expiry = format_time(self.expiry)?;
        let protocol = if self.https_only {
            "https"
        } else {
            "https,http"
        };
        let text = [
            account,
            &self.permissions,
            "b",
            &self.resource_types,
            &start,
            &expiry,
            "",
            protocol,
            &self.version,
            "",
            "",
        ]
        .join("\n");
        let signature = signer.hmac_base64(&text);

        let mut pairs = vec![
            ("sv", self.version.as_str()),
            ("ss", "b"),
            ("srt", self.resource_types.as_str()),
            ("sp", self.permissions.as_str()),
        ];
        if self.start.is_some() {
            pairs.push(("st", start.as_str()));
        }
        pairs.push(("se", expiry.as_str()));
        pairs.push(("spr", protocol));
        pairs.push(("sig", signature.as_str()));
        let query = pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, NON_ALPHANUMERIC)))
            .collect::<Vec<_>>()
            .join("&");
        Ok(SecretString::from(query))
    }
}

fn format_time(time: OffsetDateTime) -> Result<String> {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time.to_offset(time::UtcOffset::UTC)
        .format(format)
        .map_err(|error| Error::invalid_input("cannot format SAS time").with_source(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use secrecy::ExposeSecret;
    use time::macros::datetime;

    #[test]
    fn query_has_fields_in_order_and_encoded() {
        let key = SecretString::from(base64::engine::general_purpose::STANDARD.encode("k"));
        let sas = AccountSas::new(datetime!(2030-01-02 03:04:05 UTC))
            .with_permissions("rl")
            .with_version("2025-11-05")
            .sign("acct", &key)
            .unwrap();
        let query = sas.expose_secret();
        assert!(
            query.starts_with(
                "sv=2025%2D11%2D05&ss=b&srt=sco&sp=rl&se=2030%2D01%2D02T03%3A04%3A05Z&spr=https%2Chttp&sig="
            ),
            "{query}"
        );
        let signature = query.rsplit("sig=").next().unwrap();
        assert!(
            !signature.contains('/') && !signature.contains('+'),
            "{signature}"
        );
    }
}
