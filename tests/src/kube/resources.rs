//! The resource types the test API server serves, and the discovery documents that describe
//! them to clients such as `kubectl`.

use serde_json::{Value, json};

/// The naming rule the real API server applies to `metadata.name` of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// A lowercase RFC 1123 subdomain: at most 253 characters of `[a-z0-9.-]`.
    Subdomain,
    /// A lowercase RFC 1123 label: at most 63 characters of `[a-z0-9-]`.
    Label,
    /// An RFC 1035 label: an RFC 1123 label that starts with a letter.
    Dns1035Label,
    /// Any path segment: not `.` or `..`, and without `/` or `%`.
    PathSegment,
}

/// One resource type: where it lives in the API and how it behaves.
#[derive(Clone, Copy, Debug)]
pub struct ResourceType {
    /// The API group, empty for the core group.
    pub group: &'static str,
    /// The API version within the group.
    pub version: &'static str,
    /// The kind, such as `ConfigMap`.
    pub kind: &'static str,
    /// The plural resource name used in paths, such as `configmaps`.
    pub plural: &'static str,
    /// The lowercase singular name.
    pub singular: &'static str,
    /// The short names `kubectl` accepts, such as `cm`.
    pub short_names: &'static [&'static str],
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the kind has a `/status` subresource, so that writes to the main resource keep
    /// the stored `status`.
    pub has_status: bool,
    /// The naming rule for `metadata.name`.
    pub name_rule: NameRule,
}

impl ResourceType {
    /// Returns the `apiVersion` field value, `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Returns the path prefix of the group version, `/api/v1` or `/apis/group/version`.
    pub fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
}

#[allow(clippy::too_many_arguments)]
const fn resource(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    has_status: bool,
    name_rule: NameRule,
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        singular,
        short_names,
        namespaced,
        has_status,
        name_rule,
    }
}

/// Every resource type the server serves.
pub static RESOURCES: &[ResourceType] = &[
    resource(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        &["ns"],
        false,
        true,
        NameRule::Label,
    ),
    resource(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        &["cm"],
        true,
        false,
        NameRule::Subdomain,
    ),
    resource(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        &["po"],
        true,
        true,
        NameRule::Subdomain,
    ),
    resource(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        &["no"],
        false,
        true,
        NameRule::Subdomain,
    ),
    resource(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        &["sa"],
        true,
        false,
        NameRule::Subdomain,
    ),
    resource(
        "",
        "v1",
        "Service",
        "services",
        "service",
        &["svc"],
        true,
        true,
        NameRule::Dns1035Label,
    ),
    resource(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        &[],
        true,
        true,
        NameRule::Subdomain,
    ),
    resource(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        &["deploy"],
        true,
        true,
        NameRule::Subdomain,
    ),
    resource(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        &[],
        false,
        false,
        NameRule::PathSegment,
    ),
    resource(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        &[],
        false,
        false,
        NameRule::PathSegment,
    ),
    resource(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        &[],
        true,
        false,
        NameRule::Subdomain,
    ),
];

/// Finds the resource type served at `group`/`version` under the plural name `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The groups other than the core group, each with its only version.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !groups.contains(&(r.group, r.version)) {
            groups.push((r.group, r.version));
        }
    }
    groups
}

/// Builds the `APIVersions` document served at `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    })
}

/// Builds the `APIGroupList` document served at `/apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| group_document(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Builds the `APIGroup` document served at `/apis/<group>`, if the group exists.
pub fn group(group: &str) -> Option<Value> {
    groups()
        .into_iter()
        .find(|(g, _)| *g == group)
        .map(|(g, v)| {
            let mut document = group_document(g, v);
            document["kind"] = json!("APIGroup");
            document["apiVersion"] = json!("v1");
            document
        })
}

fn group_document(group: &str, version: &str) -> Value {
    let group_version = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [group_version], "preferredVersion": group_version})
}

/// Builds the `APIResourceList` document of a group version, if it is served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        resources.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs,
            "shortNames": r.short_names,
        }));
        if r.has_status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_live_in_batch_v1() {
        let jobs = find("batch", "v1", "jobs").expect("jobs are served");
        assert_eq!(jobs.api_version(), "batch/v1");
        assert_eq!(jobs.prefix(), "/apis/batch/v1");
        assert!(jobs.namespaced);
    }

    #[test]
    fn core_resource_list_has_status_subresources() {
        let list = resource_list("", "v1").expect("core group is served");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"configmaps"));
        assert!(names.contains(&"pods/status"));
        assert!(!names.contains(&"configmaps/status"));
    }

    #[test]
    fn group_list_names_each_group_once() {
        let list = group_list();
        let groups = list["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 4);
        assert!(group("rbac.authorization.k8s.io").is_some());
        assert!(group("example.com").is_none());
    }
}
