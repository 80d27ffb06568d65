//! Building the OpenAPI service's objects from their inputs, without I/O.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec, Probe, Service,
    ServiceAccount, ServicePort, ServiceSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::{
    CLIENT_ID_ANNOTATION, CLUSTER_ROLE_BINDING_NAME, CLUSTER_ROLE_NAME, CONTAINER_PORT,
    INTERNAL_LB_ANNOTATION, OPENAPI_NAME, OpenApiObjects, OpenApiService, SERVICE_ACCOUNT_NAME,
    USE_WORKLOAD_IDENTITY_LABEL,
};
use crate::k8s::names::validate_dns_label;
use crate::{Error, Result};

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
