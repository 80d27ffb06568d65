//! The OpenAPI service's cluster objects, applied with server-side apply so that applying
//! again changes nothing and a changed input updates only what changed.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec, Probe, Service,
    ServiceAccount, ServicePort, ServiceSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::info;

use crate::k8s::api_error::{from_kube, is_not_found, target};
use crate::k8s::names::validate_dns_label;
use crate::{Error, ErrorKind, Result};

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

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

impl OpenApiService {
    /// Builds the objects without any request.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] naming an invalid namespace, an empty client id
    /// or an empty image.
    pub fn objects(&self) -> Result<OpenApiObjects> {
        validate_dns_label(&self.namespace)?;
        if self.client_id.trim().is_empty() {
            return Err(Error::invalid_input(
                "empty client_id for the OpenAPI service: set the managed identity's client id",
            ));
        }
        if self.image.trim().is_empty() {
            return Err(Error::invalid_input(
                "empty image for the OpenAPI service: set it",
            ));
        }
        let namespace = Some(self.namespace.as_str());
        let app_labels = BTreeMap::from([("app".to_owned(), OPENAPI_NAME.to_owned())]);

        let mut service_account = ServiceAccount {
            metadata: meta(SERVICE_ACCOUNT_NAME, namespace),
            ..ServiceAccount::default()
        };
        service_account.metadata.annotations = Some(BTreeMap::from([(
            CLIENT_ID_ANNOTATION.to_owned(),
            self.client_id.clone(),
        )]));

        let read = ["get", "list", "watch"];
        let write = [
            "get", "list", "watch", "create", "update", "patch", "delete",
        ];
        let cluster_role = ClusterRole {
            metadata: meta(CLUSTER_ROLE_NAME, None),
            rules: Some(vec![
                rule(&[""], &["nodes"], &read),
                rule(
                    &[""],
                    &["pods", "pods/log"],
                    &["get", "list", "watch", "delete"],
                ),
                rule(&[""], &["configmaps"], &write),
                rule(&[""], &["services"], &read),
                rule(&["batch"], &["jobs"], &write),
                rule(&["apps"], &["deployments"], &read),
            ]),
            ..ClusterRole::default()
        };
        let cluster_role_binding = ClusterRoleBinding {
            metadata: meta(CLUSTER_ROLE_BINDING_NAME, None),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".to_owned()),
                kind: "ClusterRole".to_owned(),
                name: CLUSTER_ROLE_NAME.to_owned(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_owned(),
                name: SERVICE_ACCOUNT_NAME.to_owned(),
                namespace: Some(self.namespace.clone()),
                ..Subject::default()
            }]),
        };

        let probe = Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/healthz".to_owned()),
                port: IntOrString::Int(CONTAINER_PORT),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        };
        let env: Vec<EnvVar> = self
            .env
            .iter()
            .map(|(name, value)| EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                ..EnvVar::default()
            })
            .collect();
        let container = Container {
            name: OPENAPI_NAME.to_owned(),
            image: Some(self.image.clone()),
            ports: Some(vec![ContainerPort {
                name: Some("http".to_owned()),
                container_port: CONTAINER_PORT,
                ..ContainerPort::default()
            }]),
            env: (!env.is_empty()).then_some(env),
            readiness_probe: Some(probe.clone()),
            liveness_probe: Some(probe),
            ..Container::default()
        };
        let mut pod_labels = app_labels.clone();
        pod_labels.insert(USE_WORKLOAD_IDENTITY_LABEL.to_owned(), "true".to_owned());
        let mut deployment_meta = meta(OPENAPI_NAME, namespace);
        deployment_meta.labels = Some(app_labels.clone());
        let deployment = Deployment {
            metadata: deployment_meta,
            spec: DeploymentSpec {
                replicas: Some(1),
                selector: LabelSelector {
                    match_labels: Some(app_labels.clone()),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(pod_labels),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        service_account_name: Some(SERVICE_ACCOUNT_NAME.to_owned()),
                        containers: vec![container],
                        ..PodSpec::default()
                    }),
                },
                ..DeploymentSpec::default()
            },
            status: None,
        };

        let mut service_meta = meta(OPENAPI_NAME, namespace);
        service_meta.labels = Some(app_labels.clone());
        if self.internal_load_balancer {
            service_meta.annotations = Some(BTreeMap::from([(
                INTERNAL_LB_ANNOTATION.to_owned(),
                "true".to_owned(),
            )]));
        }
        let service = Service {
            metadata: service_meta,
            spec: Some(ServiceSpec {
                type_: Some("LoadBalancer".to_owned()),
                selector: Some(app_labels),
                ports: Some(vec![ServicePort {
                    name: Some("http".to_owned()),
                    port: 80,
                    target_port: Some(IntOrString::Int(CONTAINER_PORT)),
                    protocol: Some("TCP".to_owned()),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        };

        Ok(OpenApiObjects {
            service_account,
            cluster_role,
            cluster_role_binding,
            deployment,
            service,
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> OpenApiService {
        OpenApiService {
            namespace: "elb".into(),
            client_id: "00000000-1111-2222-3333-444444444444".into(),
            image: "elbacr.azurecr.io/elb-openapi:1.0".into(),
            internal_load_balancer: true,
            env: BTreeMap::from([("ELB_NAMESPACE".into(), "elb".into())]),
        }
    }

    #[test]
    fn objects_follow_the_contract() {
        let objects = service().objects().unwrap();
        let annotations = objects.service_account.metadata.annotations.unwrap();
        assert_eq!(
            annotations[CLIENT_ID_ANNOTATION],
            "00000000-1111-2222-3333-444444444444"
        );
        assert_eq!(
            objects.cluster_role.metadata.name.as_deref(),
            Some("elb-openapi-role")
        );
        let subjects = objects.cluster_role_binding.subjects.unwrap();
        assert_eq!(subjects[0].name, "elb-openapi-sa");
        assert_eq!(subjects[0].namespace.as_deref(), Some("elb"));

        let spec = objects.deployment.spec;
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.selector.match_labels.unwrap()["app"], "elb-openapi");
        let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(pod_labels["azure.workload.identity/use"], "true");
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("elb-openapi-sa"));
        let container = &pod.containers[0];
        assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 8000);
        let probe = container
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap();
        assert_eq!(probe.path.as_deref(), Some("/healthz"));

        let service = objects.service;
        assert_eq!(
            service.metadata.annotations.unwrap()[INTERNAL_LB_ANNOTATION],
            "true"
        );
        let spec = service.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        let port = &spec.ports.unwrap()[0];
        assert_eq!(port.port, 80);
        assert_eq!(port.target_port, Some(IntOrString::Int(8000)));
    }

    #[test]
    fn public_load_balancer_has_no_annotation() {
        let mut input = service();
        input.internal_load_balancer = false;
        assert!(
            input
                .objects()
                .unwrap()
                .service
                .metadata
                .annotations
                .is_none()
        );
    }

    #[test]
    fn empty_client_id_is_rejected() {
        let mut input = service();
        input.client_id = " ".into();
        let error = input.objects().unwrap_err();
        assert!(error.message().contains("client_id"), "{error}");
    }
}
