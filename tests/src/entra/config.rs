//! Configuration of the test token service: tenants, app registrations, their client secrets
//! and federated identity credentials.

use serde::{Deserialize, Serialize};

/// Audience that Kubernetes service-account tokens carry for workload identity federation.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Service account that the elb OpenAPI pod runs as.
pub const OPENAPI_SERVICE_ACCOUNT: &str = "elb-openapi-sa";

/// Default lifetime of issued access tokens, in seconds, as Entra ID reports it.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3599;

/// Tenants and app registrations that the token service knows.
///
/// The JSON form (for `elb-test-servers --entra CONFIG.json`) uses the field names below, for
/// example `{"tenants": ["t"], "apps": [{"tenant": "t", "client_id": "c", "secrets": ["s"]}]}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EntraConfig {
    /// Tenant ids (GUIDs or domain names) that exist.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// App registrations and user-assigned identities that can request tokens.
    #[serde(default)]
    pub apps: Vec<AppRegistration>,
    /// Lifetime of issued access tokens in seconds; `None` means
    /// [`DEFAULT_TOKEN_LIFETIME_SECS`].
    #[serde(default)]
    pub token_lifetime_secs: Option<u64>,
}

/// An application (or user-assigned managed identity) registered in one tenant.
#[derive(Clone, Serialize, Deserialize)]
pub struct AppRegistration {
    /// Tenant the application belongs to.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// Object id of the service principal, used as the `oid` claim; derived from the client
    /// id when absent.
    #[serde(default)]
    pub object_id: Option<String>,
    /// Client secret values that authenticate the application.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Federated identity credentials that let an external token stand in for a secret.
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential: the issuer, subject and audiences an assertion must carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// Issuer URL of the external identity provider (for AKS, the cluster's OIDC issuer).
    pub issuer: String,
    /// Subject, such as `system:serviceaccount:default:elb-openapi-sa`.
    pub subject: String,
    /// Accepted audiences; Entra ID allows one, normally `api://AzureADTokenExchange`.
    #[serde(default = "default_audiences")]
    pub audiences: Vec<String>,
}

fn default_audiences() -> Vec<String> {
    vec![TOKEN_EXCHANGE_AUDIENCE.to_string()]
}

impl EntraConfig {
    /// Creates an empty configuration: no tenants, no applications.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the usual workload identity setup: tenant `tenant`, application `client_id`
    /// and a federated credential for issuer `issuer`, subject
    /// `system:serviceaccount:default:elb-openapi-sa` and audience `api://AzureADTokenExchange`.
    pub fn workload_identity(tenant: &str, client_id: &str, issuer: &str) -> Self {
        let subject = format!("system:serviceaccount:default:{OPENAPI_SERVICE_ACCOUNT}");
        let app = AppRegistration::new(tenant, client_id)
            .with_federated_credential(FederatedCredential::new(issuer, &subject));
        Self::new().with_tenant(tenant).with_app(app)
    }

    /// Adds a tenant.
    pub fn with_tenant(mut self, tenant: &str) -> Self {
        self.tenants.push(tenant.to_string());
        self
    }

    /// Adds an application registration; its tenant must be added too.
    pub fn with_app(mut self, app: AppRegistration) -> Self {
        self.apps.push(app);
        self
    }

    /// Sets the lifetime of issued access tokens.
    pub fn with_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.token_lifetime_secs = Some(secs);
        self
    }

    /// Returns whether `tenant` exists.
    pub fn has_tenant(&self, tenant: &str) -> bool {
        self.tenants
            .iter()
            .any(|known| known.eq_ignore_ascii_case(tenant))
    }

    /// Finds the application `client_id` in `tenant`.
    pub fn find_app(&self, tenant: &str, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|app| {
            app.tenant.eq_ignore_ascii_case(tenant) && app.client_id.eq_ignore_ascii_case(client_id)
        })
    }

    /// Returns the configured token lifetime in seconds.
    pub fn token_lifetime_secs(&self) -> u64 {
        self.token_lifetime_secs
            .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS)
    }
}

impl AppRegistration {
    /// Creates an application `client_id` in `tenant`, with no credentials yet.
    pub fn new(tenant: &str, client_id: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            object_id: None,
            secrets: Vec::new(),
            federated_credentials: Vec::new(),
        }
    }

    /// Adds a client secret value.
    pub fn with_secret(mut self, secret: &str) -> Self {
        self.secrets.push(secret.to_string());
        self
    }

    /// Adds a federated identity credential.
    pub fn with_federated_credential(mut self, credential: FederatedCredential) -> Self {
        self.federated_credentials.push(credential);
        self
    }

    /// Sets the service principal's object id.
    pub fn with_object_id(mut self, object_id: &str) -> Self {
        self.object_id = Some(object_id.to_string());
        self
    }

    /// Returns the object id, or a stable id derived from the client id when none is set.
    pub fn object_id(&self) -> String {
        match &self.object_id {
            Some(object_id) => object_id.clone(),
            None => derived_object_id(&self.client_id),
        }
    }
}

// Secrets stay out of `Debug` output, as they would in production code.
impl std::fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistration")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("object_id", &self.object_id)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("federated_credentials", &self.federated_credentials)
            .finish()
    }
}

impl FederatedCredential {
    /// Creates a credential for `issuer` and `subject` with the audience
    /// `api://AzureADTokenExchange`.
    pub fn new(issuer: &str, subject: &str) -> Self {
        Self {
            issuer: issuer.to_string(),
            subject: subject.to_string(),
            audiences: default_audiences(),
        }
    }

    /// Replaces the accepted audiences with `audience`.
    pub fn with_audience(mut self, audience: &str) -> Self {
        self.audiences = vec![audience.to_string()];
        self
    }

    /// Returns whether an assertion with these claims matches. Entra ID compares issuer,
    /// subject and audience case-sensitively.
    pub fn matches(&self, issuer: &str, subject: &str, audiences: &[String]) -> bool {
        self.issuer == issuer
            && self.subject == subject
            && audiences
                .iter()
                .any(|audience| self.audiences.contains(audience))
    }
}

/// Derives a GUID-shaped object id from `seed`, so that the same client id always gets the
/// same `oid` claim.
pub(crate) fn derived_object_id(seed: &str) -> String {
    // FNV-1a over the seed, twice with different offsets, gives 128 stable bits.
    let mut high: u64 = 0xcbf2_9ce4_8422_2325;
    let mut low: u64 = 0x8422_2325_cbf2_9ce4;
    for byte in seed.bytes() {
        high = (high ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        low = (low ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let hex = format!("{high:016x}{low:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_identity_config_matches_openapi_pod() {
        let config = EntraConfig::workload_identity("tenant-a", "client-a", "https://issuer.test");
        assert!(config.has_tenant("TENANT-A"));
        let app = config.find_app("tenant-a", "client-a").expect("app");
        let credential = &app.federated_credentials[0];
        assert_eq!(
            credential.subject,
            "system:serviceaccount:default:elb-openapi-sa"
        );
        assert!(credential.matches(
            "https://issuer.test",
            "system:serviceaccount:default:elb-openapi-sa",
            &["api://AzureADTokenExchange".to_string()]
        ));
        assert!(!credential.matches(
            "https://issuer.test/",
            "system:serviceaccount:default:elb-openapi-sa",
            &["api://AzureADTokenExchange".to_string()]
        ));
    }

    #[test]
    fn debug_hides_secrets() {
        let app = AppRegistration::new("t", "c").with_secret("hunter2-secret");
        let text = format!("{app:?}");
        assert!(!text.contains("hunter2"));
        assert!(text.contains("1 redacted"));
    }

    #[test]
    fn object_id_is_stable_and_guid_shaped() {
        let first = derived_object_id("client-a");
        assert_eq!(first, derived_object_id("client-a"));
        assert_ne!(first, derived_object_id("client-b"));
        assert_eq!(first.len(), 36);
    }

    #[test]
    fn config_reads_from_json() {
        let json = r#"{"tenants": ["t"], "apps": [{"tenant": "t", "client_id": "c",
            "federated_credentials": [{"issuer": "i", "subject": "s"}]}]}"#;
        let config: EntraConfig = serde_json::from_str(json).unwrap();
        let app = config.find_app("t", "c").unwrap();
        assert_eq!(
            app.federated_credentials[0].audiences,
            ["api://AzureADTokenExchange"]
        );
        assert_eq!(config.token_lifetime_secs(), 3599);
    }
}
