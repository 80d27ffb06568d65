//! Configuration of the test managed identity service: the identities assigned to the
//! simulated machine or app, and the App Service header secret.

use serde::{Deserialize, Serialize};

use crate::entra::config::derived_object_id;

/// Default lifetime of issued tokens in seconds. IMDS tokens normally last about 24 hours.
pub const DEFAULT_MSI_TOKEN_LIFETIME_SECS: u64 = 86_399;

/// Tenant of [`ManagedIdentityConfig::sample`].
pub const SAMPLE_TENANT: &str = "72f988bf-0000-4000-8000-0000000000c1";

/// Client id of the system-assigned identity of [`ManagedIdentityConfig::sample`].
pub const SAMPLE_SYSTEM_CLIENT_ID: &str = "5a5a5a5a-0000-4000-8000-000000000001";

/// Client id of the user-assigned identity of [`ManagedIdentityConfig::sample`].
pub const SAMPLE_USER_CLIENT_ID: &str = "5a5a5a5a-0000-4000-8000-000000000002";

/// A managed identity: its client id, object (principal) id and Azure resource id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedIdentity {
    /// Client (application) id.
    pub client_id: String,
    /// Object id, also called principal id.
    pub object_id: String,
    /// Azure resource id of a user-assigned identity,
    /// `/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
    #[serde(default)]
    pub resource_id: Option<String>,
}

impl ManagedIdentity {
    /// Creates an identity with `client_id`, an object id derived from it and no resource id.
    pub fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_string(),
            object_id: derived_object_id(client_id),
            resource_id: None,
        }
    }

    /// Creates a user-assigned identity named `name` with `client_id`, in a fixed test
    /// subscription and resource group.
    pub fn user_assigned(client_id: &str, name: &str) -> Self {
        let resource_id = format!(
            "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/elb-test/\
             providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        );
        Self {
            resource_id: Some(resource_id),
            ..Self::new(client_id)
        }
    }

    /// Sets the object id.
    pub fn with_object_id(mut self, object_id: &str) -> Self {
        self.object_id = object_id.to_string();
        self
    }
}

/// Identities and settings of the managed identity service.
#[derive(Clone, Serialize, Deserialize)]
pub struct ManagedIdentityConfig {
    /// Tenant of the identities, for the `tid` claim and the token issuer.
    pub tenant: String,
    /// The system-assigned identity, used when a request names no identity.
    #[serde(default)]
    pub system_assigned: Option<ManagedIdentity>,
    /// User-assigned identities, selected by client id, object id or resource id.
    #[serde(default)]
    pub user_assigned: Vec<ManagedIdentity>,
    /// Value that App Service requests must send in `X-IDENTITY-HEADER` (`IDENTITY_HEADER`).
    pub identity_header: String,
    /// Lifetime of issued tokens in seconds; `None` means
    /// [`DEFAULT_MSI_TOKEN_LIFETIME_SECS`].
    #[serde(default)]
    pub token_lifetime_secs: Option<u64>,
}

impl ManagedIdentityConfig {
    /// Creates a configuration for `tenant` with a system-assigned identity of client id
    /// `system_client_id`, no user-assigned identities and a random identity header.
    pub fn new(tenant: &str, system_client_id: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            system_assigned: Some(ManagedIdentity::new(system_client_id)),
            user_assigned: Vec::new(),
            identity_header: crate::entra::error::random_guid(),
            token_lifetime_secs: None,
        }
    }

    /// Creates the configuration that `elb-test-servers --msi` serves: tenant
    /// [`SAMPLE_TENANT`], a system-assigned identity [`SAMPLE_SYSTEM_CLIENT_ID`] and a
    /// user-assigned identity `elb-kubelet` with client id [`SAMPLE_USER_CLIENT_ID`].
    pub fn sample() -> Self {
        Self::new(SAMPLE_TENANT, SAMPLE_SYSTEM_CLIENT_ID).with_user_assigned(
            ManagedIdentity::user_assigned(SAMPLE_USER_CLIENT_ID, "elb-kubelet"),
        )
    }

    /// Removes the system-assigned identity, so requests that name no identity fail.
    pub fn without_system_assigned(mut self) -> Self {
        self.system_assigned = None;
        self
    }

    /// Adds a user-assigned identity.
    pub fn with_user_assigned(mut self, identity: ManagedIdentity) -> Self {
        self.user_assigned.push(identity);
        self
    }

    /// Sets the App Service identity header value.
    pub fn with_identity_header(mut self, value: &str) -> Self {
        self.identity_header = value.to_string();
        self
    }

    /// Sets the lifetime of issued tokens.
    pub fn with_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.token_lifetime_secs = Some(secs);
        self
    }

    /// Returns the configured token lifetime in seconds.
    pub fn token_lifetime_secs(&self) -> u64 {
        self.token_lifetime_secs
            .unwrap_or(DEFAULT_MSI_TOKEN_LIFETIME_SECS)
    }

    /// Finds the identity a request selects: the system-assigned one when `selector` is
    /// `None`, else the identity it names. Ids compare case-insensitively.
    pub fn select(&self, selector: Option<&IdentitySelector>) -> Option<&ManagedIdentity> {
        let Some(selector) = selector else {
            return self.system_assigned.as_ref();
        };
        let mut identities = self.system_assigned.iter().chain(&self.user_assigned);
        identities.find(|identity| match selector {
            IdentitySelector::ClientId(id) => identity.client_id.eq_ignore_ascii_case(id),
            IdentitySelector::ObjectId(id) => identity.object_id.eq_ignore_ascii_case(id),
            IdentitySelector::ResourceId(id) => identity
                .resource_id
                .as_deref()
                .is_some_and(|known| known.eq_ignore_ascii_case(id)),
        })
    }
}

// The identity header is a secret, so it stays out of `Debug` output.
impl std::fmt::Debug for ManagedIdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityConfig")
            .field("tenant", &self.tenant)
            .field("system_assigned", &self.system_assigned)
            .field("user_assigned", &self.user_assigned)
            .field("identity_header", &"[redacted]")
            .field("token_lifetime_secs", &self.token_lifetime_secs)
            .finish()
    }
}

/// The query parameter that names a user-assigned identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentitySelector {
    /// `client_id`.
    ClientId(String),
    /// `object_id` (IMDS and App Service) or `principal_id` (App Service).
    ObjectId(String),
    /// `msi_res_id` (IMDS) or `mi_res_id` (App Service).
    ResourceId(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ManagedIdentityConfig {
        ManagedIdentityConfig::new("tenant-a", "system-client")
            .with_user_assigned(ManagedIdentity::user_assigned("user-client", "elb-kubelet"))
    }

    #[test]
    fn no_selector_picks_system_assigned() {
        let config = config();
        assert_eq!(config.select(None).unwrap().client_id, "system-client");
        assert!(config.without_system_assigned().select(None).is_none());
    }

    #[test]
    fn selectors_find_user_assigned() {
        let config = config();
        let user = &config.user_assigned[0];
        let selectors = [
            IdentitySelector::ClientId("USER-CLIENT".to_string()),
            IdentitySelector::ObjectId(user.object_id.clone()),
            IdentitySelector::ResourceId(user.resource_id.clone().unwrap()),
        ];
        for selector in selectors {
            let found = config.select(Some(&selector));
            assert_eq!(
                found.map(|identity| identity.client_id.as_str()),
                Some("user-client")
            );
        }
        let unknown = IdentitySelector::ClientId("other-client".to_string());
        assert!(config.select(Some(&unknown)).is_none());
    }

    #[test]
    fn debug_hides_identity_header() {
        let config = config().with_identity_header("header-secret-value");
        assert!(!format!("{config:?}").contains("header-secret-value"));
    }
}
