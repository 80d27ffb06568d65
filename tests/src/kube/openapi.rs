//! Minimal OpenAPI v3 documents. `kubectl create` and `kubectl apply` read them only to learn
//! whether the server validates fields itself, which the `fieldValidation` query parameter of
//! each kind's PATCH operation shows. Once it is confirmed, kubectl sends
//! `fieldValidation=Strict` and skips its own schema validation.
//!
//! NOTE: the documents carry no schemas, so clients that read schemas from OpenAPI (such as
//! `kubectl explain`) get nothing useful.

use serde_json::{Map, Value, json};

use super::resources::RESOURCES;

/// Returns the path of a group version inside `/openapi/v3/`, `api/v1` or `apis/<g>/<v>`.
fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Builds the document served at `/openapi/v3`, which lists one document per group version.
pub(crate) fn root() -> Value {
    let mut paths = Map::new();
    for r in RESOURCES {
        let path = group_version_path(r.group, r.version);
        let url = format!("/openapi/v3/{path}?hash=elb-test");
        paths.insert(path, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// Builds the document of the group version at `path` (such as `apis/batch/v1`), if served.
pub(crate) fn group_version(path: &str) -> Option<Value> {
    let mut paths = Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| group_version_path(r.group, r.version) == path)
    {
        let scope = if r.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let item_path = format!("{}{scope}/{}/{{name}}", r.prefix(), r.plural);
        let patch = json!({
            "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(item_path, json!({"patch": patch}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_lists_each_group_version() {
        let root = root();
        assert_eq!(
            root["paths"]["apis/batch/v1"]["serverRelativeURL"],
            "/openapi/v3/apis/batch/v1?hash=elb-test"
        );
        assert!(root["paths"]["api/v1"].is_object());
    }

    #[test]
    fn group_version_patch_accepts_field_validation() {
        let batch = group_version("apis/batch/v1").unwrap();
        let patch = &batch["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Job");
        assert_eq!(patch["parameters"][0]["name"], "fieldValidation");
        assert!(group_version("apis/example.com/v1").is_none());
    }
}
