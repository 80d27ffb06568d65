//! Cluster information from the test Kubernetes API server.

use elb_core::k8s::cluster::{list_nodes, pod_phases, readyz};
use elb_core::k8s::search::{FixedMarkers, SearchJobs, SearchSpec};
use elb_test_servers::kube::DEFAULT_NODE;

use crate::k8s_common::{NAMESPACE, elb_job_id, start};

#[tokio::test]
async fn nodes_report_readiness_and_instance_type() {
    let cluster = start().await;
    cluster.server.add_node(
        "aks-blast-2",
        false,
        "Standard_HB120rs_v3",
        &[("agentpool", "blast")],
    );
    let mut nodes = list_nodes(&cluster.client).await.unwrap();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(nodes.len(), 2);
    let blast = nodes.iter().find(|n| n.name == "aks-blast-2").unwrap();
    assert!(!blast.ready);
    assert_eq!(blast.instance_type.as_deref(), Some("Standard_HB120rs_v3"));
    assert_eq!(blast.labels["agentpool"], "blast");
    let default = nodes.iter().find(|n| n.name == DEFAULT_NODE).unwrap();
    assert!(default.ready);
    assert_eq!(default.instance_type.as_deref(), Some("Standard_E32s_v3"));
}

#[tokio::test]
async fn pod_phases_follow_jobs() {
    let cluster = start().await;
    let id = elb_job_id('9');
    let spec = SearchSpec {
        elb_job_id: id.clone(),
        program: "blastp".into(),
        db: "swissprot".into(),
        queries: "https://acct.blob.core.windows.net/queries/q.fa".into(),
        results: "https://acct.blob.core.windows.net/results/r".into(),
        batches: 2,
        image: "elb:1".into(),
        ..SearchSpec::default()
    };
    let search = SearchJobs::new(cluster.client.clone(), NAMESPACE, &id).unwrap();
    search.submit(&spec.batch_jobs().unwrap()).await.unwrap();
    cluster.server.controller().step().await;
    let phases = pod_phases(&cluster.client, NAMESPACE).await.unwrap();
    assert_eq!(phases.total(), 2);
    assert_eq!(phases.pending, 2);

    for _ in 0..6 {
        cluster.server.controller().step().await;
    }
    let phases = pod_phases(&cluster.client, NAMESPACE).await.unwrap();
    assert_eq!(phases.succeeded, 2);
    assert_eq!(phases.running, 0);
    let status = search
        .status(&FixedMarkers::default(), "results/r")
        .await
        .unwrap();
    assert_eq!(status.succeeded, 2);
    assert_eq!(
        pod_phases(&cluster.client, "kube-system")
            .await
            .unwrap()
            .total(),
        0
    );
}

#[tokio::test]
async fn readyz_returns_ok() {
    let cluster = start().await;
    readyz(&cluster.client).await.unwrap();
}
