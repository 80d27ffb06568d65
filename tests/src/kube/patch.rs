//! Patch formats: JSON merge patch, JSON patch, and the field bookkeeping of server-side
//! apply.
//!
//! NOTE: strategic merge patch is served as a JSON merge patch, so a list in the patch
//! replaces the whole stored list. The real server merges lists such as `containers` by their
//! merge key (`name`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Applies an RFC 7386 JSON merge patch to `target`: maps merge, `null` removes a field, and
/// any other value (lists included) replaces the stored one.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target_map = target.as_object_mut().expect("target is an object");
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(pointer: &str) -> Result<(String, String), String> {
    let (parent, last) = pointer
        .rsplit_once('/')
        .ok_or_else(|| format!("invalid JSON pointer {pointer:?}: it must start with '/'"))?;
    Ok((parent.to_string(), unescape(last)))
}

fn insert(target: &mut Value, pointer: &str, value: Value, replace: bool) -> Result<(), String> {
    if pointer.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(pointer)?;
    let container = target
        .pointer_mut(&parent)
        .ok_or_else(|| format!("JSON patch path {pointer:?} does not exist"))?;
    match container {
        Value::Object(map) => {
            if replace && !map.contains_key(&last) {
                return Err(format!("JSON patch replace of missing path {pointer:?}"));
            }
            map.insert(last, value);
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("invalid array index in JSON patch path {pointer:?}"))?
            };
            if replace {
                let slot = items
                    .get_mut(index)
                    .ok_or_else(|| format!("JSON patch path {pointer:?} is out of range"))?;
                *slot = value;
            } else if index <= items.len() {
                items.insert(index, value);
            } else {
                return Err(format!("JSON patch path {pointer:?} is out of range"));
            }
        }
        _ => return Err(format!("JSON patch path {pointer:?} is inside a scalar")),
    }
    Ok(())
}

fn take(target: &mut Value, pointer: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(pointer)?;
    let container = target
        .pointer_mut(&parent)
        .ok_or_else(|| format!("JSON patch path {pointer:?} does not exist"))?;
    let removed = match container {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => last
            .parse::<usize>()
            .ok()
            .filter(|i| *i < items.len())
            .map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| format!("JSON patch path {pointer:?} does not exist"))
}

/// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
///
/// # Errors
///
/// Returns a message naming the operation or path that failed; `target` may then be
/// partly patched, so callers patch a copy.
pub(crate) fn json_patch(target: &mut Value, operations: &Value) -> Result<(), String> {
    let operations = operations
        .as_array()
        .ok_or("a JSON patch must be a JSON array of operations")?;
    for operation in operations {
        let op = operation["op"].as_str().unwrap_or_default();
        let path = operation["path"]
            .as_str()
            .ok_or_else(|| format!("JSON patch operation {operation} has no path"))?;
        match op {
            "add" => insert(target, path, operation["value"].clone(), false)?,
            "replace" => insert(target, path, operation["value"].clone(), true)?,
            "remove" => {
                take(target, path)?;
            }
            "move" | "copy" => {
                let from = operation["from"]
                    .as_str()
                    .ok_or_else(|| format!("JSON patch {op} operation has no from"))?;
                let value = if op == "move" {
                    take(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| format!("JSON patch path {from:?} does not exist"))?
                };
                insert(target, path, value, false)?;
            }
            "test" => {
                if target.pointer(path) != Some(&operation["value"]) {
                    return Err(format!("JSON patch test failed at {path:?}"));
                }
            }
            other => return Err(format!("unsupported JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

/// Returns the leaf paths of `value`: every non-map value or empty map, with its path of
/// map keys. Identity fields (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace`)
/// are left out because no field manager owns them.
pub(crate) fn leaf_paths(value: &Value) -> Vec<Vec<String>> {
    fn walk(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match value.as_object() {
            Some(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(key.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => out.push(path.clone()),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out.retain(|p| {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        !matches!(
            p.as_slice(),
            ["apiVersion"] | ["kind"] | ["metadata", "name"] | ["metadata", "namespace"]
        )
    });
    out
}

fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(key))
}

fn remove_path(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if let Some(Value::Object(map)) = parents.iter().try_fold(&mut *value, |v, k| v.get_mut(k)) {
        map.remove(last);
    }
    // Drop maps the removal left empty, except the top-level fields.
    for depth in (1..parents.len()).rev() {
        let prefix = &parents[..=depth];
        if lookup(value, prefix)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            remove_path(value, prefix);
        }
    }
}

/// The result of merging an applied configuration into a live object.
#[derive(Debug, PartialEq)]
pub(crate) enum ApplyOutcome {
    /// The merged object, and the field managers that lost fields to a forced apply with the
    /// paths they lost.
    Merged(Value, BTreeMap<String, Vec<Vec<String>>>),
    /// Fields another manager applied with a different value; `force` takes them over.
    Conflicts(Vec<(String, String)>),
}

/// Merges `configuration`, applied by one field manager, into `live`.
///
/// Fields the manager applied before (`previous`) and left out now are removed unless
/// another manager in `others` also applied them. A field another manager applied with a
/// different value is a conflict unless `force` is set.
///
/// NOTE: ownership is tracked only for apply requests. Fields written by update or patch
/// requests have no manager here, so they never conflict with an apply.
pub(crate) fn apply(
    live: &Value,
    configuration: &Value,
    previous: Option<&Value>,
    others: &BTreeMap<String, Value>,
    force: bool,
) -> ApplyOutcome {
    let applied_paths = leaf_paths(configuration);
    let mut conflicts = Vec::new();
    let mut lost: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for path in &applied_paths {
        let expected = lookup(configuration, path);
        for (manager, other) in others {
            let theirs = lookup(other, path);
            if theirs.is_some() && theirs != expected {
                if force {
                    lost.entry(manager.clone()).or_default().push(path.clone());
                } else {
                    conflicts.push((manager.clone(), format!(".{}", path.join("."))));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return ApplyOutcome::Conflicts(conflicts);
    }

    let mut merged = live.clone();
    if let Some(previous) = previous {
        for path in leaf_paths(previous) {
            let still_applied = lookup(configuration, &path).is_some();
            let kept_by_other = others.values().any(|o| lookup(o, &path).is_some());
            if !still_applied && !kept_by_other {
                remove_path(&mut merged, &path);
            }
        }
    }
    merge_patch(&mut merged, &strip_nulls(configuration));
    ApplyOutcome::Merged(merged, lost)
}

/// Returns `value` without `null` map entries, which an applied configuration uses to mean
/// "unset" rather than "delete".
fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Removes `paths` from a field manager's recorded configuration after it lost them.
pub(crate) fn forget_paths(configuration: &mut Value, paths: &[Vec<String>]) {
    for path in paths {
        remove_path(configuration, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_removes_nulls_and_replaces_lists() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "list": [1, 2]});
        merge_patch(&mut target, &json!({"a": {"b": null, "d": 3}, "list": [3]}));
        assert_eq!(target, json!({"a": {"c": 2, "d": 3}, "list": [3]}));
    }

    #[test]
    fn json_patch_operations() {
        let mut target = json!({"metadata": {"labels": {"a/b": "1"}}, "items": [1, 3]});
        let ops = json!([
            {"op": "add", "path": "/items/1", "value": 2},
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "2"},
            {"op": "copy", "from": "/items/0", "path": "/items/-"},
            {"op": "test", "path": "/items/2", "value": 3},
            {"op": "remove", "path": "/items/0"},
        ]);
        json_patch(&mut target, &ops).unwrap();
        assert_eq!(
            target,
            json!({"metadata": {"labels": {"a/b": "2"}}, "items": [2, 3, 1]})
        );
        let error = json_patch(
            &mut target,
            &json!([{"op": "test", "path": "/items/0", "value": 9}]),
        );
        assert!(error.is_err());
    }

    #[test]
    fn apply_removes_dropped_fields() {
        let previous = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}});
        let live = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2", "c": "3"}}});
        let now = json!({"metadata": {"name": "x", "labels": {"a": "1"}}});
        let outcome = apply(&live, &now, Some(&previous), &BTreeMap::new(), false);
        let expected = json!({"metadata": {"name": "x", "labels": {"a": "1", "c": "3"}}});
        assert_eq!(outcome, ApplyOutcome::Merged(expected, BTreeMap::new()));
    }

    #[test]
    fn apply_conflicts_unless_forced() {
        let mut others = BTreeMap::new();
        others.insert("other".to_string(), json!({"data": {"k": "1"}}));
        let live = json!({"data": {"k": "1"}});
        let mine = json!({"data": {"k": "2"}});
        match apply(&live, &mine, None, &others, false) {
            ApplyOutcome::Conflicts(c) => assert_eq!(c, vec![("other".into(), ".data.k".into())]),
            merged => panic!("expected a conflict, got {merged:?}"),
        }
        match apply(&live, &mine, None, &others, true) {
            ApplyOutcome::Merged(object, lost) => {
                assert_eq!(object, json!({"data": {"k": "2"}}));
                assert_eq!(
                    lost["other"],
                    vec![vec!["data".to_string(), "k".to_string()]]
                );
            }
            conflict => panic!("expected a merge, got {conflict:?}"),
        }
    }

    #[test]
    fn leaf_paths_skip_identity() {
        let paths =
            leaf_paths(&json!({"apiVersion": "v1", "metadata": {"name": "x", "labels": {}}}));
        assert_eq!(
            paths,
            vec![vec!["metadata".to_string(), "labels".to_string()]]
        );
    }
}
