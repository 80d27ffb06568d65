//! Checks of managed identity token requests, for both endpoint shapes, without I/O.

use crate::msi::config::IdentitySelector;

/// IMDS api-version that the Azure SDKs send for managed identity tokens.
pub const IMDS_API_VERSION: &str = "2018-02-01";

/// App Service api-version that uses the `X-IDENTITY-HEADER` header.
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// Why a token request was rejected before an identity was looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// IMDS: the `Metadata: true` header is missing or has another value.
    MissingMetadataHeader,
    /// App Service: `X-IDENTITY-HEADER` is missing or wrong.
    InvalidIdentityHeader,
    /// The `api-version` parameter is missing.
    MissingApiVersion,
    /// The `api-version` parameter names a version this endpoint does not serve.
    UnsupportedApiVersion(String),
    /// The `resource` parameter is missing.
    MissingResource,
    /// More than one identity selector was given.
    MultipleSelectors,
}

/// A token request that passed the checks: the resource and the identity selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenQuery {
    /// Resource the token is for; becomes `aud`.
    pub resource: String,
    /// Selector of a user-assigned identity; `None` selects the system-assigned one.
    pub selector: Option<IdentitySelector>,
}

/// A query parameter name and the selector variant it fills.
type SelectorParam = (&'static str, fn(String) -> IdentitySelector);

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// Checks an IMDS request: the `Metadata` header value and the query.
///
/// # Errors
///
/// Returns the first [`Rejection`] that applies.
pub fn check_imds(
    query: &[(String, String)],
    metadata_header: Option<&str>,
) -> Result<TokenQuery, Rejection> {
    // IMDS requires the exact lowercase value "true" as a guard against request forgery.
    if metadata_header != Some("true") {
        return Err(Rejection::MissingMetadataHeader);
    }
    let version = param(query, "api-version").ok_or(Rejection::MissingApiVersion)?;
    // IMDS serves dated versions from 2018-02-01 on; ISO dates compare as strings.
    if !is_date(version) || version < IMDS_API_VERSION {
        return Err(Rejection::UnsupportedApiVersion(version.to_string()));
    }
    let selectors = [
        (
            "client_id",
            IdentitySelector::ClientId as fn(String) -> IdentitySelector,
        ),
        ("object_id", IdentitySelector::ObjectId),
        ("msi_res_id", IdentitySelector::ResourceId),
    ];
    finish(query, &selectors)
}

/// Checks an App Service request: the `X-IDENTITY-HEADER` value against `expected_header`,
/// and the query.
///
/// # Errors
///
/// Returns the first [`Rejection`] that applies.
pub fn check_app_service(
    query: &[(String, String)],
    identity_header: Option<&str>,
    expected_header: &str,
) -> Result<TokenQuery, Rejection> {
    if identity_header != Some(expected_header) {
        return Err(Rejection::InvalidIdentityHeader);
    }
    let version = param(query, "api-version").ok_or(Rejection::MissingApiVersion)?;
    if version != APP_SERVICE_API_VERSION {
        return Err(Rejection::UnsupportedApiVersion(version.to_string()));
    }
    let selectors = [
        (
            "client_id",
            IdentitySelector::ClientId as fn(String) -> IdentitySelector,
        ),
        ("object_id", IdentitySelector::ObjectId),
        ("principal_id", IdentitySelector::ObjectId),
        ("mi_res_id", IdentitySelector::ResourceId),
    ];
    finish(query, &selectors)
}

fn finish(
    query: &[(String, String)],
    selectors: &[SelectorParam],
) -> Result<TokenQuery, Rejection> {
    let resource = param(query, "resource").ok_or(Rejection::MissingResource)?;
    let mut given = selectors
        .iter()
        .filter_map(|(name, make)| param(query, name).map(|value| make(value.to_string())));
    let selector = given.next();
    if given.next().is_some() {
        return Err(Rejection::MultipleSelectors);
    }
    Ok(TokenQuery {
        resource: resource.to_string(),
        selector,
    })
}

fn is_date(version: &str) -> bool {
    let bytes = version.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    const STORAGE: (&str, &str) = ("resource", "https://storage.azure.com");

    #[test]
    fn imds_accepts_sdk_request() {
        let request = query(&[("api-version", "2018-02-01"), STORAGE, ("client_id", "c")]);
        let checked = check_imds(&request, Some("true")).unwrap();
        assert_eq!(checked.resource, "https://storage.azure.com");
        assert_eq!(
            checked.selector,
            Some(IdentitySelector::ClientId("c".to_string()))
        );
    }

    #[test]
    fn imds_rejections() {
        let good = query(&[("api-version", "2018-02-01"), STORAGE]);
        assert_eq!(
            check_imds(&good, None),
            Err(Rejection::MissingMetadataHeader)
        );
        assert_eq!(
            check_imds(&good, Some("True")),
            Err(Rejection::MissingMetadataHeader)
        );

        let no_version = query(&[STORAGE]);
        assert_eq!(
            check_imds(&no_version, Some("true")),
            Err(Rejection::MissingApiVersion)
        );

        let old = query(&[("api-version", "2017-09-01"), STORAGE]);
        let expected = Rejection::UnsupportedApiVersion("2017-09-01".to_string());
        assert_eq!(check_imds(&old, Some("true")), Err(expected));

        let no_resource = query(&[("api-version", "2018-02-01")]);
        assert_eq!(
            check_imds(&no_resource, Some("true")),
            Err(Rejection::MissingResource)
        );

        let two = query(&[
            ("api-version", "2018-02-01"),
            STORAGE,
            ("client_id", "c"),
            ("object_id", "o"),
        ]);
        assert_eq!(
            check_imds(&two, Some("true")),
            Err(Rejection::MultipleSelectors)
        );
    }

    #[test]
    fn app_service_selectors() {
        let base = [("api-version", "2019-08-01"), STORAGE];
        let cases = [
            ("principal_id", IdentitySelector::ObjectId("x".to_string())),
            ("object_id", IdentitySelector::ObjectId("x".to_string())),
            ("mi_res_id", IdentitySelector::ResourceId("x".to_string())),
            ("client_id", IdentitySelector::ClientId("x".to_string())),
        ];
        for (name, expected) in cases {
            let mut pairs = base.to_vec();
            pairs.push((name, "x"));
            let checked = check_app_service(&query(&pairs), Some("secret"), "secret").unwrap();
            assert_eq!(checked.selector, Some(expected), "selector {name}");
        }
    }

    #[test]
    fn app_service_rejections() {
        let good = query(&[("api-version", "2019-08-01"), STORAGE]);
        let wrong_header = check_app_service(&good, Some("nope"), "secret");
        assert_eq!(wrong_header, Err(Rejection::InvalidIdentityHeader));
        assert_eq!(
            check_app_service(&good, None, "secret"),
            Err(Rejection::InvalidIdentityHeader)
        );

        let old = query(&[("api-version", "2017-09-01"), STORAGE]);
        let expected = Rejection::UnsupportedApiVersion("2017-09-01".to_string());
        assert_eq!(
            check_app_service(&old, Some("secret"), "secret"),
            Err(expected)
        );
    }
}
