//! Cluster information: nodes, a pod phase summary and the API server's readiness.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, ListParams};

use crate::k8s::api_error::from_kube;
use crate::k8s::names::validate_dns_label;
use crate::{Error, ErrorKind, Result};

/// The label that carries a node's VM size, such as `Standard_E32s_v3`.
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";

/// A node, as the health report and capacity planning use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Whether the node has the condition `Ready=True`.
    pub ready: bool,
    /// The value of `node.kubernetes.io/instance-type`, when set.
    pub instance_type: Option<String>,
    /// All labels of the node.
    pub labels: BTreeMap<String, String>,
}

impl NodeInfo {
    /// Extracts the node's name, readiness, instance type and labels.
    pub fn from_node(node: &Node) -> Self {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let ready = node
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
        Self {
            name: node.metadata.name.clone().unwrap_or_default(),
            ready,
            instance_type: labels.get(INSTANCE_TYPE_LABEL).cloned(),
            labels,
        }
    }
}

/// Numbers of pods in each phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodPhases {
    /// Pods in phase `Pending`.
    pub pending: usize,
    /// Pods in phase `Running`.
    pub running: usize,
    /// Pods in phase `Succeeded`.
    pub succeeded: usize,
    /// Pods in phase `Failed`.
    pub failed: usize,
    /// Pods in phase `Unknown` or without a phase.
    pub unknown: usize,
}

impl PodPhases {
    /// Counts the phases of `pods`.
    pub fn count(pods: &[Pod]) -> Self {
        let mut phases = Self::default();
        for pod in pods {
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            match phase {
                Some("Pending") => phases.pending += 1,
                Some("Running") => phases.running += 1,
                Some("Succeeded") => phases.succeeded += 1,
                Some("Failed") => phases.failed += 1,
                _ => phases.unknown += 1,
            }
        }
        phases
    }

    /// Returns the number of pods counted.
    pub fn total(&self) -> usize {
        self.pending + self.running + self.succeeded + self.failed + self.unknown
    }
}

/// Lists the cluster's nodes.
///
/// # Errors
///
/// Returns the API server's error, such as [`ErrorKind::PermissionDenied`] without the
/// `list nodes` permission.
pub async fn list_nodes(client: &Client) -> Result<Vec<NodeInfo>> {
    let api: Api<Node> = Api::all(client.clone());
    let nodes = api
        .list(&ListParams::default())
        .await
        .map_err(|error| from_kube(error, "list", "Nodes"))?;
    Ok(nodes.items.iter().map(NodeInfo::from_node).collect())
}

/// Counts the pods of `namespace` by phase.
///
/// # Errors
///
/// Returns [`ErrorKind::InvalidInput`] for an invalid namespace, and the API server's error.
pub async fn pod_phases(client: &Client, namespace: &str) -> Result<PodPhases> {
    validate_dns_label(namespace)?;
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pods = crate::k8s::search::list_all(&api, "", namespace).await?;
    Ok(PodPhases::count(&pods))
}

/// Checks through the API server's `/readyz` endpoint that it is ready to serve.
///
/// # Errors
///
/// Returns [`ErrorKind::Unavailable`] when `/readyz` returns a body other than `ok`, and the
/// connection or authentication error when the request fails.
pub async fn readyz(client: &Client) -> Result<()> {
    let request = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|source| {
            Error::new(ErrorKind::Service, "invalid /readyz request").with_source(source)
        })?;
    let body = client
        .request_text(request)
        .await
        .map_err(|error| from_kube(error, "get", "API server /readyz"))?;
    if body.trim() == "ok" {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "the API server is not ready: /readyz returned {:?}",
                body.trim()
            ),
        )
        .with_target("API server /readyz"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_info_reads_ready_and_instance_type() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "aks-blast-1", "labels": {
                "node.kubernetes.io/instance-type": "Standard_E32s_v3", "agentpool": "blast"}},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let info = NodeInfo::from_node(&node);
        assert_eq!(info.name, "aks-blast-1");
        assert!(info.ready);
        assert_eq!(info.instance_type.as_deref(), Some("Standard_E32s_v3"));
        assert_eq!(info.labels["agentpool"], "blast");
    }

    #[test]
    fn node_without_ready_condition_is_not_ready() {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
        let info = NodeInfo::from_node(&node);
        assert!(!info.ready);
        assert_eq!(info.instance_type, None);
    }

    #[test]
    fn pod_phases_are_counted() {
        let pods: Vec<Pod> = [
            "Pending",
            "Running",
            "Running",
            "Failed",
            "Succeeded",
            "Odd",
        ]
        .iter()
        .map(|phase| serde_json::from_value(json!({"status": {"phase": phase}})).unwrap())
        .collect();
        let phases = PodPhases::count(&pods);
        assert_eq!(phases.pending, 1);
        assert_eq!(phases.running, 2);
        assert_eq!(phases.failed, 1);
        assert_eq!(phases.succeeded, 1);
        assert_eq!(phases.unknown, 1);
        assert_eq!(phases.total(), 6);
    }
}
