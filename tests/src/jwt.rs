//! JSON Web Tokens for the test servers: minting access tokens and service-account tokens,
//! and reading the claims of a presented token.
//!
//! The tokens carry an RS256 header and a random signature. Azurite's OAuth mode and the
//! test token service check claims (`iss`, `aud`, `exp`, `nbf`, `iat`), not signatures, and so
//! does nothing else on loopback.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// Returns the current time as seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Mints a JWT whose payload is `claims`, with an RS256 header and a random signature.
pub fn mint(claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": "elb-test" });
    let signature: [u8; 64] = rand::random();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Mints a Kubernetes projected service-account token as the workload identity webhook
/// mounts it: issuer `issuer`, subject `system:serviceaccount:<namespace>:<name>`, audience
/// `audience`, valid from now for `lifetime_secs` (negative for an expired token).
pub fn service_account_token(
    issuer: &str,
    namespace: &str,
    service_account: &str,
    audience: &str,
    lifetime_secs: i64,
) -> String {
    let now = now_unix();
    mint(&json!({
        "iss": issuer,
        "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
        "aud": [audience],
        "iat": now.min(now + lifetime_secs) - 1,
        "nbf": now.min(now + lifetime_secs) - 1,
        "exp": now + lifetime_secs,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": { "name": service_account },
        },
    }))
}

/// Reads the payload of a compact JWT, without checking its signature.
///
/// Returns `None` when `token` is not three dot-separated base64url parts with a JSON object
/// as its payload.
pub fn claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Returns the audiences of a claim set: `aud` as a string or as an array of strings.
pub fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(audience)) => vec![audience.clone()],
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(|value| value.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_claims_read_back() {
        let token = service_account_token(
            "https://oidc.example/issuer",
            "default",
            "elb-openapi-sa",
            "api://AzureADTokenExchange",
            3600,
        );
        let claims = claims(&token).expect("valid token");
        assert_eq!(claims["iss"], "https://oidc.example/issuer");
        assert_eq!(
            claims["sub"],
            "system:serviceaccount:default:elb-openapi-sa"
        );
        assert_eq!(audiences(&claims), vec!["api://AzureADTokenExchange"]);
        assert!(claims["exp"].as_i64().unwrap() > now_unix());
    }

    #[test]
    fn malformed_tokens_have_no_claims() {
        assert!(claims("not-a-jwt").is_none());
        assert!(claims("a.b").is_none());
        assert!(claims("a.b.c.d").is_none());
        assert!(claims("e30.bm90LWpzb24.c2ln").is_none());
    }
}
