//! The OpenAPI service's cluster objects, applied with server-side apply so that applying
//! again changes nothing and a changed input updates only what changed.

mod apply;
mod build;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};

pub use apply::{load_balancer_address, wait_for_load_balancer};

/// The field manager of every object elb applies.
pub const FIELD_MANAGER: &str = "elb";
/// Name of the Deployment, the Service and the `app` label value.
pub const OPENAPI_NAME: &str = "elb-openapi";
/// Name of the ServiceAccount.
pub const SERVICE_ACCOUNT_NAME: &str = "elb-openapi-sa";
/// Name of the ClusterRole.
pub const CLUSTER_ROLE_NAME: &str = "elb-openapi-role";
/// Name of the ClusterRoleBinding.
pub const CLUSTER_ROLE_BINDING_NAME: &str = "elb-openapi-binding";
/// Port of the service's container.
pub const CONTAINER_PORT: i32 = 8000;
/// ServiceAccount annotation with the workload identity's client id.
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
/// Pod label that opts in to workload identity.
pub const USE_WORKLOAD_IDENTITY_LABEL: &str = "azure.workload.identity/use";
/// Service annotation that makes the Azure load balancer internal.
pub const INTERNAL_LB_ANNOTATION: &str = "service.beta.kubernetes.io/azure-load-balancer-internal";

/// The inputs of the OpenAPI service's objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenApiService {
    /// Namespace of the ServiceAccount, Deployment and Service.
    pub namespace: String,
    /// Client id of the user-assigned managed identity that the pods use.
    pub client_id: String,
    /// Container image of the service.
    pub image: String,
    /// Whether the LoadBalancer gets a private address only.
    pub internal_load_balancer: bool,
    /// Environment variables of the service's container.
    pub env: BTreeMap<String, String>,
}

/// The five objects of the OpenAPI service.
#[derive(Clone, Debug)]
pub struct OpenApiObjects {
    /// `elb-openapi-sa`.
    pub service_account: ServiceAccount,
    /// `elb-openapi-role`.
    pub cluster_role: ClusterRole,
    /// `elb-openapi-binding`.
    pub cluster_role_binding: ClusterRoleBinding,
    /// `elb-openapi`.
    pub deployment: Deployment,
    /// `elb-openapi`, type LoadBalancer.
    pub service: Service,
}

/// One applied object and whether the apply changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedObject {
    /// `Kind namespace/name` or `Kind name`.
    pub target: String,
    /// The object's `resourceVersion` after the apply.
    pub resource_version: String,
    /// Whether the object was created or its `resourceVersion` changed.
    pub changed: bool,
}
