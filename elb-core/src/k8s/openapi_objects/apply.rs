//! Applying the OpenAPI service's objects and waiting for the load balancer address.

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::info;

use super::{AppliedObject, FIELD_MANAGER, OPENAPI_NAME, OpenApiService};
use crate::k8s::api_error::{from_kube, is_not_found, target};
use crate::k8s::names::validate_dns_label;
use crate::{Error, ErrorKind, Result};

impl OpenApiService {
    /// Applies the objects with server-side apply under the field manager `elb`.
    ///
    /// Applying the same inputs again changes no object (their `resourceVersion`s stay), and
    /// a field that an earlier apply set but this one omits (the internal load balancer
    /// annotation) is removed. Conflicts with other field managers are forced in elb's favour,
    /// because these objects belong to elb.
    ///
    /// # Errors
    ///
    /// Returns the errors of [`OpenApiService::objects`] before any request, and the API
    /// server's error naming the object.
    pub async fn apply(&self, client: &Client) -> Result<Vec<AppliedObject>> {
        let objects = self.objects()?;
        let namespace = self.namespace.as_str();
        let applied = vec![
            apply_one(
                Api::namespaced(client.clone(), namespace),
                &objects.service_account,
            )
            .await?,
            apply_one(Api::all(client.clone()), &objects.cluster_role).await?,
            apply_one(Api::all(client.clone()), &objects.cluster_role_binding).await?,
            apply_one(
                Api::namespaced(client.clone(), namespace),
                &objects.deployment,
            )
            .await?,
            apply_one(Api::namespaced(client.clone(), namespace), &objects.service).await?,
        ];
        let changed = applied.iter().filter(|object| object.changed).count();
        info!(
            k8s.namespace = namespace,
            changed, "applied the OpenAPI service's objects"
        );
        Ok(applied)
    }
}

async fn apply_one<K>(api: Api<K>, object: &K) -> Result<AppliedObject>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&Default::default()).into_owned();
    let name = object.meta().name.clone().unwrap_or_default();
    let namespace = object.meta().namespace.clone().unwrap_or_default();
    let target = target(&kind, &namespace, &name);
    let before = match api.get(&name).await {
        Ok(existing) => existing.meta().resource_version.clone(),
        Err(error) if is_not_found(&error) => None,
        Err(error) => return Err(from_kube(error, "get", &target)),
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let after = api
        .patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|error| from_kube(error, "apply", &target))?;
    let resource_version = after.meta().resource_version.clone().unwrap_or_default();
    Ok(AppliedObject {
        changed: before.as_deref() != Some(resource_version.as_str()),
        target,
        resource_version,
    })
}

/// Waits until the Service `elb-openapi` in `namespace` has a load balancer address, and
/// returns its IP or host name.
///
/// # Errors
///
/// Returns [`ErrorKind::TimedOut`] naming the Service when no address appears within
/// `timeout`, and the API server's error (such as [`ErrorKind::NotFound`]).
///
/// # Cancel safety
///
/// This function only reads, so dropping its future at any point is safe.
pub async fn wait_for_load_balancer(
    client: &Client,
    namespace: &str,
    timeout: Duration,
    poll_interval: Duration,
) -> Result<String> {
    validate_dns_label(namespace)?;
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let target = target("Service", namespace, OPENAPI_NAME);
    let poll = async {
        loop {
            let service = api
                .get(OPENAPI_NAME)
                .await
                .map_err(|error| from_kube(error, "get", &target))?;
            if let Some(address) = load_balancer_address(&service) {
                return Ok(address);
            }
            tokio::time::sleep(poll_interval).await;
        }
    };
    tokio::time::timeout(timeout, poll).await.map_err(|_| {
        Error::new(
            ErrorKind::TimedOut,
            format!(
                "timed out after {} s waiting for a load balancer address of {target}",
                timeout.as_secs()
            ),
        )
        .with_target(&target)
    })?
}

/// Returns the first address in `status.loadBalancer.ingress` (IP, else host name).
pub fn load_balancer_address(service: &Service) -> Option<String> {
    let ingress = service
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?;
    ingress
        .iter()
        .find_map(|entry| entry.ip.clone().or_else(|| entry.hostname.clone()))
}
