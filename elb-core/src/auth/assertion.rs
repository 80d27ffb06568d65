//! Reading the claims of a federated assertion (a Kubernetes service-account token) so that
//! errors can show what was presented, without the token or its signature.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The claims of a federated assertion that Entra compares with a federated identity
/// credential: issuer, subject and audiences, plus the expiry.
///
/// These claims are not secret: they name the cluster's OIDC issuer and the ServiceAccount.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssertionClaims {
    /// The `iss` claim: the cluster's OIDC issuer URL.
    pub issuer: Option<String>,
    /// The `sub` claim, `system:serviceaccount:<namespace>:<name>` for Kubernetes.
    pub subject: Option<String>,
    /// The `aud` claim, normally `api://AzureADTokenExchange`.
    pub audiences: Vec<String>,
    /// The `exp` claim, in seconds since the Unix epoch.
    pub expires_at: Option<i64>,
}

impl AssertionClaims {
    /// Decodes the payload of a compact JWT without checking its signature.
    ///
    /// Returns `None` when `token` is not three dot-separated base64url parts whose middle
    /// part is a JSON object.
    pub fn decode(token: &str) -> Option<Self> {
        let mut parts = token.trim().split('.');
        let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let Value::Object(claims) = serde_json::from_slice(&bytes).ok()? else {
            return None;
        };

        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let audiences = match claims.get("aud") {
            Some(Value::String(audience)) => vec![audience.clone()],
            Some(Value::Array(values)) => values
                .iter()
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        Some(Self {
            issuer: text("iss"),
            subject: text("sub"),
            audiences,
            expires_at: claims.get("exp").and_then(Value::as_i64),
        })
    }

    /// Returns whether the `exp` claim lies before `now_unix` (seconds since the epoch).
    pub fn is_expired_at(&self, now_unix: i64) -> bool {
        self.expires_at
            .is_some_and(|expires_at| expires_at <= now_unix)
    }
}

impl fmt::Display for AssertionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missing = "(missing)";
        let audiences = if self.audiences.is_empty() {
            missing.to_string()
        } else {
            self.audiences.join(", ")
        };
        write!(
            f,
            "issuer {}, subject {}, audience {}",
            self.issuer.as_deref().unwrap_or(missing),
            self.subject.as_deref().unwrap_or(missing),
            audiences
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_payload(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn decode_reads_issuer_subject_and_audiences() {
        let token = token_with_payload(
            r#"{"iss":"https://oidc.example/abc/","sub":"system:serviceaccount:default:elb-openapi-sa",
                "aud":["api://AzureADTokenExchange"],"exp":1700000000}"#,
        );
        let claims = AssertionClaims::decode(&token).expect("valid token");
        assert_eq!(claims.issuer.as_deref(), Some("https://oidc.example/abc/"));
        assert_eq!(
            claims.subject.as_deref(),
            Some("system:serviceaccount:default:elb-openapi-sa")
        );
        assert_eq!(claims.audiences, vec!["api://AzureADTokenExchange"]);
        assert_eq!(claims.expires_at, Some(1_700_000_000));
        assert!(claims.is_expired_at(1_700_000_000));
        assert!(!claims.is_expired_at(1_699_999_999));
    }

    #[test]
    fn decode_accepts_audience_string_and_trailing_newline() {
        let token = token_with_payload(r#"{"aud":"api://AzureADTokenExchange"}"#) + "\n";
        let claims = AssertionClaims::decode(&token).expect("valid token");
        assert_eq!(claims.audiences, vec!["api://AzureADTokenExchange"]);
        assert_eq!(claims.issuer, None);
        assert_eq!(
            claims.to_string(),
            "issuer (missing), subject (missing), audience api://AzureADTokenExchange"
        );
    }

    #[test]
    fn decode_rejects_malformed_tokens() {
        assert_eq!(AssertionClaims::decode("not-a-jwt"), None);
        assert_eq!(AssertionClaims::decode("a.b"), None);
        assert_eq!(AssertionClaims::decode("a.b.c.d"), None);
        assert_eq!(AssertionClaims::decode(&token_with_payload("[1,2]")), None);
        assert_eq!(AssertionClaims::decode("e30.%%%.c2ln"), None);
    }
}
