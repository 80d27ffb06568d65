//! The OpenAPI service's objects, applied server-side to the test Kubernetes API server.

use std::collections::BTreeMap;
use std::time::Duration;

use elb_core::ErrorKind;
use elb_core::k8s::openapi_objects::{
    INTERNAL_LB_ANNOTATION, OpenApiService, wait_for_load_balancer,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::k8s_common::{NAMESPACE, start};

fn input() -> OpenApiService {
    OpenApiService {
        namespace: NAMESPACE.into(),
        client_id: "00000000-1111-2222-3333-444444444444".into(),
        image: "elbacr.azurecr.io/elb-openapi:1.0".into(),
        internal_load_balancer: true,
        env: BTreeMap::from([("ELB_RESULTS_CONTAINER".into(), "results".into())]),
    }
}

#[tokio::test]
async fn apply_twice_changes_nothing() {
    let cluster = start().await;
    let first = input().apply(&cluster.client).await.unwrap();
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|object| object.changed), "{first:?}");
    let targets: Vec<&str> = first.iter().map(|o| o.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "ServiceAccount default/elb-openapi-sa",
            "ClusterRole elb-openapi-role",
            "ClusterRoleBinding elb-openapi-binding",
            "Deployment default/elb-openapi",
            "Service default/elb-openapi",
        ]
    );

    let second = input().apply(&cluster.client).await.unwrap();
    for (before, after) in first.iter().zip(&second) {
        assert_eq!(
            before.resource_version, after.resource_version,
            "{}",
            after.target
        );
        assert!(!after.changed, "{}", after.target);
    }

    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let account = accounts.get("elb-openapi-sa").await.unwrap();
    assert_eq!(
        account.metadata.annotations.unwrap()["azure.workload.identity/client-id"],
        "00000000-1111-2222-3333-444444444444"
    );
    let roles: Api<ClusterRole> = Api::all(cluster.client.clone());
    let role = roles.get("elb-openapi-role").await.unwrap();
    let rules = role.rules.unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r.resources.as_deref() == Some(&["jobs".to_owned()][..]))
    );
    let bindings: Api<ClusterRoleBinding> = Api::all(cluster.client.clone());
    let binding = bindings.get("elb-openapi-binding").await.unwrap();
    assert_eq!(binding.role_ref.name, "elb-openapi-role");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let deployment = deployments.get("elb-openapi").await.unwrap();
    let pod_labels = deployment.spec.template.metadata.unwrap().labels.unwrap();
    assert_eq!(pod_labels["app"], "elb-openapi");
    assert_eq!(pod_labels["azure.workload.identity/use"], "true");
}

#[tokio::test]
async fn changed_input_updates_only_changed_objects() {
    let cluster = start().await;
    let first = input().apply(&cluster.client).await.unwrap();
    let mut public = input();
    public.internal_load_balancer = false;
    let second = public.apply(&cluster.client).await.unwrap();

    for (before, after) in first.iter().zip(&second) {
        let is_service = after.target == "Service default/elb-openapi";
        assert_eq!(after.changed, is_service, "{}", after.target);
        assert_eq!(
            before.resource_version == after.resource_version,
            !is_service
        );
    }
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let service = services.get("elb-openapi").await.unwrap();
    let annotations = service.metadata.annotations.unwrap_or_default();
    assert!(
        !annotations.contains_key(INTERNAL_LB_ANNOTATION),
        "{annotations:?}"
    );
    let spec = service.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(spec.ports.unwrap()[0].port, 80);
}

#[tokio::test]
async fn load_balancer_address_is_reported_once_assigned() {
    let cluster = start().await;
    input().apply(&cluster.client).await.unwrap();
    // The test server's cloud provider may assign an address at once; clear it so that the
    // wait starts without one, as on AKS.
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let cleared = json!({"status": {"loadBalancer": {"ingress": null}}});
    services
        .patch_status(
            "elb-openapi",
            &PatchParams::default(),
            &Patch::Merge(&cleared),
        )
        .await
        .unwrap();

    let error = wait_for_load_balancer(
        &cluster.client,
        NAMESPACE,
        Duration::from_millis(300),
        Duration::from_millis(50),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert_eq!(error.target(), Some("Service default/elb-openapi"));

    let assign = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}}});
        services
            .patch_status(
                "elb-openapi",
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await
            .unwrap();
    };
    let wait = wait_for_load_balancer(
        &cluster.client,
        NAMESPACE,
        Duration::from_secs(10),
        Duration::from_millis(50),
    );
    let (address, ()) = tokio::join!(wait, assign);
    assert_eq!(address.unwrap(), "20.1.2.3");
}

#[tokio::test]
async fn missing_service_is_not_found() {
    let cluster = start().await;
    let error = wait_for_load_balancer(
        &cluster.client,
        NAMESPACE,
        Duration::from_secs(5),
        Duration::from_millis(50),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("NotFound"));
}
