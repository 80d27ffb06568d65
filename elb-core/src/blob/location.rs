//! Blob locations: parsing and printing blob URLs of every form the service and Azurite use.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

use crate::{Error, Result};

/// Characters escaped in one path segment of a blob URL: everything except the RFC 3986
/// unreserved characters, so `%`, `#`, `?`, `+`, `&`, spaces and non-ASCII text round-trip.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Maximum length of a blob name in characters, as the Blob service documents it.
pub const MAX_BLOB_NAME_CHARS: usize = 1024;

/// A parsed blob, container or account URL.
///
/// Three forms are recognised:
/// - host style, `https://<account>.blob.core.windows.net/<container>/<name>`, for every
///   cloud suffix (`.blob.core.chinacloudapi.cn`, `.blob.core.usgovcloudapi.net`) and for
///   private endpoints (`<account>.privatelink.blob.core.windows.net`);
/// - custom endpoints (any other host name): the first path segment is the container, and
///   the account name is unknown unless the host's first label precedes a `blob` label;
/// - path style, used by Azurite (`http://127.0.0.1:10000/<account>/<container>/<name>`):
///   chosen when the host is an IP address or `localhost`.
///
/// A SAS query is kept as a secret. [`Display`](fmt::Display) and [`Debug`] print the URL
/// without it, so a `BlobUrl` can go into logs and errors.
#[derive(Clone)]
pub struct BlobUrl {
    account_url: Url,
    account: Option<String>,
    container: Option<String>,
    name: Option<String>,
    sas: Option<SecretString>,
}

impl BlobUrl {
    /// Parses a blob, container or account URL.
    ///
    /// Path segments are percent-decoded, so `a%20b.fa` names the blob `a b.fa`.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the wrong
    /// part: the scheme (only `http` and `https`), a missing host, the account name, the
    /// container name or the blob name.
    pub fn parse(input: &str) -> Result<Self> {
        let url = Url::parse(input).map_err(|error| {
            Error::invalid_input(format!(
                "invalid blob URL {}: expected https://<account>.blob.core.windows.net/<container>/<name>",
                strip_query(input)
            ))
            .with_source(error)
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(Error::invalid_input(format!(
                "invalid scheme {:?} in blob URL {}: use https (or http for a local emulator)",
                url.scheme(),
                strip_query(input)
            )));
        }
        let host = url.host().ok_or_else(|| {
            Error::invalid_input(format!("blob URL {} has no host", strip_query(input)))
        })?;
        let path_style = match host {
            Host::Ipv4(_) | Host::Ipv6(_) => true,
            Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        };
        let host_account = match host {
            Host::Domain(domain) => account_from_host(domain),
            _ => None,
        };

        let raw_path = url.path().strip_prefix('/').unwrap_or(url.path());
        let mut segments: Vec<&str> = if raw_path.is_empty() {
            Vec::new()
        } else {
            raw_path.split('/').collect()
        };
        // A trailing slash after an account or container name carries no meaning.
        if segments.len() <= 2 && segments.last() == Some(&"") {
            segments.pop();
        }

        let mut account_url = url.clone();
        account_url.set_query(None);
        account_url.set_fragment(None);
        let account = if path_style {
            if segments.is_empty() {
                return Err(Error::invalid_input(format!(
                    "blob URL {} has no account name: path-style URLs of an IP host or \
                     localhost look like http://127.0.0.1:10000/<account>/<container>/<name>",
                    strip_query(input)
                )));
            }
            let account = decode(segments.remove(0))?;
            validate_account(&account)?;
            account_url.set_path(&format!("/{account}"));
            Some(account)
        } else {
            if let Some(account) = &host_account {
                validate_account(account)?;
            }
            account_url.set_path("");
            host_account
        };

        let container = match segments.first() {
            Some(segment) => {
                let container = decode(segment)?;
                validate_container(&container)?;
                Some(container)
            }
            None => None,
        };
        let name = if segments.len() > 1 {
            let decoded: Vec<String> = segments[1..]
                .iter()
                .map(|segment| decode(segment))
                .collect::<Result<_>>()?;
            let name = decoded.join("/");
            validate_blob_name(&name)?;
            Some(name)
        } else {
            None
        };

        let sas = url
            .query()
            .filter(|query| !query.is_empty())
            .map(|query| SecretString::from(query.to_owned()));
        Ok(Self {
            account_url,
            account,
            container,
            name,
            sas,
        })
    }

    /// Creates the URL of a blob under an account URL (as [`BlobUrl::account_url`] returns).
    ///
    /// # Errors
    ///
    /// Fails when the container or blob name breaks the service's naming rules.
    pub fn from_parts(account_url: &BlobUrl, container: &str, name: &str) -> Result<Self> {
        validate_container(container)?;
        validate_blob_name(name)?;
        Ok(Self {
            account_url: account_url.account_url.clone(),
            account: account_url.account.clone(),
            container: Some(container.to_owned()),
            name: Some(name.to_owned()),
            sas: account_url.sas.clone(),
        })
    }

    /// Returns the account URL without a trailing slash or query: the scheme and host, plus
    /// `/<account>` for path-style URLs.
    pub fn account_url(&self) -> &Url {
        &self.account_url
    }

    /// Returns the storage account name when the URL shows it.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// Returns the container name, if the URL has one.
    pub fn container(&self) -> Option<&str> {
        self.container.as_deref()
    }

    /// Returns the decoded blob name, if the URL has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Returns the SAS query (without the leading `?`), if the URL has one.
    pub fn sas(&self) -> Option<&SecretString> {
        self.sas.as_ref()
    }

    /// Returns the full URL including the SAS query; never log the result.
    pub fn to_url_with_sas(&self) -> String {
        let mut text = self.to_string();
        if let Some(sas) = &self.sas {
            text.push('?');
            text.push_str(sas.expose_secret());
        }
        text
    }
}

impl fmt::Display for BlobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.account_url.as_str().trim_end_matches('/'))?;
        if let Some(container) = &self.container {
            write!(f, "/{}", encode_segment(container))?;
            if let Some(name) = &self.name {
                write!(f, "/{}", encode_blob_name(name))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for BlobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobUrl")
            .field("url", &self.to_string())
            .field("has_sas", &self.sas.is_some())
            .finish()
    }
}

/// Percent-encodes one path segment (a container name or one `/`-separated part of a name).
pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Percent-encodes a blob name segment by segment, keeping `/` as the separator.
pub(crate) fn encode_blob_name(name: &str) -> String {
    name.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Returns `input` without its query and fragment, for error messages.
pub(crate) fn strip_query(input: &str) -> &str {
    let end = input.find(['?', '#']).unwrap_or(input.len());
    &input[..end]
}

fn decode(segment: &str) -> Result<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|error| {
            Error::invalid_input(format!(
                "path segment {segment:?} is not valid percent-encoded UTF-8"
            ))
            .with_source(error)
        })
}

/// Returns the account name of a host like `<account>.blob.<suffix>` or
/// `<account>.privatelink.blob.<suffix>`.
fn account_from_host(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let blob_label = labels
        .iter()
        .position(|label| label.eq_ignore_ascii_case("blob"))?;
    if blob_label == 0 {
        return None;
    }
    Some(labels[0].to_ascii_lowercase())
}

/// Checks a storage account name: 3 to 24 lowercase letters and digits.
pub fn validate_account(account: &str) -> Result<()> {
    let valid_chars = account
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    if !(3..=24).contains(&account.len()) || !valid_chars {
        return Err(Error::invalid_input(format!(
            "invalid storage account name {account:?}: use 3 to 24 lowercase letters and digits"
        )));
    }
    Ok(())
}

/// Checks a container name against the service's rules.
///
/// A name has 3 to 63 characters: lowercase letters, digits and single hyphens, starting and
/// ending with a letter or digit. The special containers `$root`, `$web` and `$logs` are
/// accepted too.
///
/// # Errors
///
/// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the rule.
pub fn validate_container(container: &str) -> Result<()> {
    if matches!(container, "$root" | "$web" | "$logs") {
        return Ok(());
    }
    let bytes = container.as_bytes();
    let valid_chars = bytes
        .iter()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-');
    let valid_ends = bytes.first().is_some_and(|byte| *byte != b'-')
        && bytes.last().is_some_and(|byte| *byte != b'-');
    if !(3..=63).contains(&bytes.len()) || !valid_chars || !valid_ends || container.contains("--") {
        return Err(Error::invalid_input(format!(
            "invalid container name {container:?}: use 3 to 63 lowercase letters, digits and \
             single hyphens, starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

/// Checks a blob name: 1 to 1024 characters, and no `.` or `..` path segment.
///
/// URL parsers remove `.` and `..` segments from paths, so such a blob could not be addressed
/// reliably.
///
/// # Errors
///
/// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the rule.
pub fn validate_blob_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_input(
            "blob name is empty: give the name of a blob after the container",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_BLOB_NAME_CHARS {
        return Err(Error::invalid_input(format!(
            "blob name of {chars} characters is too long: the maximum is {MAX_BLOB_NAME_CHARS}"
        )));
    }
    if name
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(Error::invalid_input(format!(
            "invalid blob name {name:?}: `.` and `..` path segments are not supported"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn public_cloud_blob_url() {
        let url = BlobUrl::parse("https://acct.blob.core.windows.net/queries/job1.fa").unwrap();
        assert_eq!(url.account(), Some("acct"));
        assert_eq!(url.container(), Some("queries"));
        assert_eq!(url.name(), Some("job1.fa"));
        assert_eq!(
            url.account_url().as_str(),
            "https://acct.blob.core.windows.net/"
        );
        assert!(url.sas().is_none());
    }

    #[test]
    fn other_cloud_suffixes() {
        for host in [
            "acct.blob.core.chinacloudapi.cn",
            "acct.blob.core.usgovcloudapi.net",
            "acct.privatelink.blob.core.windows.net",
        ] {
            let url = BlobUrl::parse(&format!("https://{host}/results/a/b.out.gz")).unwrap();
            assert_eq!(url.account(), Some("acct"), "{host}");
            assert_eq!(url.container(), Some("results"), "{host}");
            assert_eq!(url.name(), Some("a/b.out.gz"), "{host}");
        }
    }

    #[test]
    fn custom_endpoint_has_no_account() {
        let url = BlobUrl::parse("https://storage.example.org/blast-db/nt/nt.00.nsq").unwrap();
        assert_eq!(url.account(), None);
        assert_eq!(url.container(), Some("blast-db"));
        assert_eq!(url.name(), Some("nt/nt.00.nsq"));
    }

    #[test]
    fn path_style_urls() {
        for base in [
            "http://127.0.0.1:10000",
            "http://localhost:10000",
            "http://[::1]:10000",
        ] {
            let url = BlobUrl::parse(&format!("{base}/devstoreaccount1/results/x/y")).unwrap();
            assert_eq!(url.account(), Some("devstoreaccount1"), "{base}");
            assert_eq!(url.container(), Some("results"), "{base}");
            assert_eq!(url.name(), Some("x/y"), "{base}");
            assert_eq!(
                url.account_url().as_str(),
                format!("{base}/devstoreaccount1"),
                "{base}"
            );
            assert_eq!(
                url.to_string(),
                format!("{base}/devstoreaccount1/results/x/y")
            );
        }
    }

    #[test]
    fn account_and_container_urls() {
        let account = BlobUrl::parse("http://127.0.0.1:10000/devstoreaccount1/").unwrap();
        assert_eq!(account.container(), None);
        assert_eq!(account.name(), None);
        let container = BlobUrl::parse("https://acct.blob.core.windows.net/results/").unwrap();
        assert_eq!(container.container(), Some("results"));
        assert_eq!(container.name(), None);
    }

    #[test]
    fn sas_is_kept_secret() {
        let input = "https://acct.blob.core.windows.net/queries/a.fa?sv=2025-11-05&sig=SECRETSIG";
        let url = BlobUrl::parse(input).unwrap();
        assert_eq!(
            url.sas().unwrap().expose_secret(),
            "sv=2025-11-05&sig=SECRETSIG"
        );
        assert_eq!(
            url.to_string(),
            "https://acct.blob.core.windows.net/queries/a.fa"
        );
        assert!(!format!("{url:?}").contains("SECRETSIG"));
        assert_eq!(url.to_url_with_sas(), input);
    }

    #[test]
    fn special_characters_round_trip() {
        let names = [
            "with space.fa",
            "100%.txt",
            "hash#tag",
            "what?.fa",
            "a+b&c=d",
            "données/é/日本.fa",
            "dir/sub dir/file",
        ];
        let base = BlobUrl::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        for name in names {
            let url = BlobUrl::from_parts(&base, "queries", name).unwrap();
            let printed = url.to_string();
            let parsed = BlobUrl::parse(&printed).unwrap();
            assert_eq!(parsed.name(), Some(name), "{printed}");
            assert_eq!(parsed.container(), Some("queries"));
        }
    }

    #[test]
    fn encoding_escapes_reserved_characters() {
        assert_eq!(
            encode_blob_name("a b/c#d?e%f+g&h"),
            "a%20b/c%23d%3Fe%25f%2Bg%26h"
        );
        assert_eq!(encode_blob_name("é"), "%C3%A9");
    }

    #[test]
    fn invalid_urls_name_the_wrong_part() {
        let cases = [
            ("ftp://acct.blob.core.windows.net/c/n", "scheme"),
            ("not a url", "invalid blob URL"),
            (
                "https://acct.blob.core.windows.net/UPPER/n",
                "container name",
            ),
            ("https://acct.blob.core.windows.net/ab/n", "container name"),
            (
                "https://acct.blob.core.windows.net/a--b/n",
                "container name",
            ),
            ("https://acct.blob.core.windows.net/-ab/n", "container name"),
            (
                "https://Bad_Acct.blob.core.windows.net/abc/n",
                "account name",
            ),
            ("http://127.0.0.1:10000", "no account name"),
        ];
        for (input, expected) in cases {
            let error = BlobUrl::parse(input).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{input}");
            assert!(
                error.message().contains(expected),
                "{input}: {}",
                error.message()
            );
        }
    }

    #[test]
    fn blob_name_rules() {
        assert!(validate_blob_name(&"a".repeat(1024)).is_ok());
        let long = validate_blob_name(&"a".repeat(1025)).unwrap_err();
        assert!(long.message().contains("1025 characters"));
        assert!(
            validate_blob_name("")
                .unwrap_err()
                .message()
                .contains("empty")
        );
        assert!(validate_blob_name("a/../b").is_err());
        assert!(validate_blob_name("a/./b").is_err());
        assert!(validate_blob_name("a/.hidden").is_ok());
    }

    #[test]
    fn container_rules() {
        for valid in [
            "abc",
            "blast-db",
            "results",
            "a1-b2",
            "$root",
            &"a".repeat(63),
        ] {
            assert!(validate_container(valid).is_ok(), "{valid}");
        }
        for invalid in ["ab", "Abc", "a_b", "a--b", "abc-", &"a".repeat(64)] {
            assert!(validate_container(invalid).is_err(), "{invalid}");
        }
    }
}
