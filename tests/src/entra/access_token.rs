//! Access tokens as Entra ID issues them for an application, in a form Azurite's OAuth mode
//! accepts: `aud` is the resource, `iss` is `https://sts.windows.net/<tenant>/`.

use serde_json::json;

use crate::jwt;

/// The claims of an access token that the token services issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenSpec {
    /// Tenant id, for `tid` and the issuer.
    pub tenant: String,
    /// Resource the token is for, such as `https://storage.azure.com`; becomes `aud`.
    pub resource: String,
    /// Application (client) id, for `appid`.
    pub app_id: String,
    /// Object id of the service principal or managed identity, for `oid` and `sub`.
    pub object_id: String,
    /// Lifetime in seconds from now.
    pub lifetime_secs: i64,
}

/// Token issuer for `tenant` in Entra ID's v1.0 access tokens.
pub fn issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// Mints an access token with the claims of `spec`, valid from now; returns the token and
/// its expiry as Unix seconds.
pub fn mint_access_token(spec: &AccessTokenSpec) -> (String, i64) {
    let now = jwt::now_unix();
    let expires_on = now + spec.lifetime_secs;
    let token = jwt::mint(&json!({
        "aud": spec.resource,
        "iss": issuer(&spec.tenant),
        "iat": now - 1,
        "nbf": now - 1,
        "exp": expires_on,
        "tid": spec.tenant,
        "oid": spec.object_id,
        "sub": spec.object_id,
        "appid": spec.app_id,
        "appidacr": "1",
        "idtyp": "app",
        "ver": "1.0",
        "uti": crate::entra::error::random_guid(),
    }));
    (token, expires_on)
}

/// Returns the resource of a `<resource>/.default` scope: the scope without `/.default`.
///
/// A double slash keeps the resource's trailing slash, as Entra ID does:
/// `https://management.azure.com//.default` gives `https://management.azure.com/`.
pub fn resource_of_scope(scope: &str) -> Option<&str> {
    let resource = scope.strip_suffix("/.default")?;
    if resource.is_empty() {
        None
    } else {
        Some(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_token_has_azurite_claims() {
        let spec = AccessTokenSpec {
            tenant: "tenant-a".to_string(),
            resource: "https://storage.azure.com".to_string(),
            app_id: "client-a".to_string(),
            object_id: "object-a".to_string(),
            lifetime_secs: 60,
        };
        let (token, expires_on) = mint_access_token(&spec);
        let claims = jwt::claims(&token).unwrap();
        assert_eq!(claims["aud"], "https://storage.azure.com");
        assert_eq!(claims["iss"], "https://sts.windows.net/tenant-a/");
        assert_eq!(claims["tid"], "tenant-a");
        assert_eq!(claims["appid"], "client-a");
        assert_eq!(claims["oid"], "object-a");
        assert_eq!(claims["exp"].as_i64().unwrap(), expires_on);
        assert!(claims["nbf"].as_i64().unwrap() < expires_on);
    }

    #[test]
    fn scope_resource_strips_default() {
        assert_eq!(
            resource_of_scope("https://storage.azure.com/.default"),
            Some("https://storage.azure.com")
        );
        assert_eq!(
            resource_of_scope("https://management.azure.com//.default"),
            Some("https://management.azure.com/")
        );
        assert_eq!(
            resource_of_scope("6dae42f8-4368-4678-94ff-3960e28e3630/.default"),
            Some("6dae42f8-4368-4678-94ff-3960e28e3630")
        );
        assert_eq!(
            resource_of_scope("https://storage.azure.com/user_impersonation"),
            None
        );
        assert_eq!(resource_of_scope("/.default"), None);
    }
}
