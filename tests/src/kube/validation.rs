//! Validation of object names, labels and ConfigMap data, returning the field errors the API
//! server reports in a 422 `Invalid` response.

use serde_json::Value;

use super::resources::{NameRule, ResourceType};
use super::status::Cause;

/// The maximum total size of a ConfigMap's `data` and `binaryData` (keys and values), in bytes.
pub(crate) const CONFIG_MAP_MAX_BYTES: usize = 1_048_576;

fn is_alphanumeric(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Returns whether `name` is a lowercase RFC 1123 label.
pub(crate) fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| is_alphanumeric(c) || c == '-')
        && name.starts_with(is_alphanumeric)
        && name.ends_with(is_alphanumeric)
}

/// Returns whether `name` is a lowercase RFC 1123 subdomain: dot-separated labels, at most 253
/// characters in all.
pub(crate) fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_label)
}

fn name_error(rule: NameRule, name: &str) -> Option<String> {
    let valid = match rule {
        NameRule::Subdomain => is_subdomain(name),
        NameRule::Label => is_label(name),
        NameRule::Dns1035Label => {
            is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())
        }
        NameRule::PathSegment => {
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%'])
        }
    };
    if valid {
        return None;
    }
    Some(match rule {
        NameRule::Subdomain => format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lowercase \
             letters, digits, '-' and '.', must start and end with a letter or digit, and must \
             be at most 253 characters (for example \"blast-batch-001\")"
        ),
        NameRule::Label => format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lowercase \
             letters, digits and '-', must start and end with a letter or digit, and must be at \
             most 63 characters (for example \"elb-search\")"
        ),
        NameRule::Dns1035Label => format!(
            "Invalid value: {name:?}: an RFC 1035 label must consist of lowercase letters, digits \
             and '-', must start with a letter, end with a letter or digit, and be at most 63 \
             characters (for example \"elb-openapi\")"
        ),
        NameRule::PathSegment => {
            format!("Invalid value: {name:?}: a name may not be '.' or '..' or contain '/' or '%'")
        }
    })
}

fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Returns whether `value` is a valid label value: empty, or at most 63 characters of
/// `[A-Za-z0-9_.-]` that start and end with a letter or digit.
pub(crate) fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

/// Returns whether `key` is a valid label key: an optional subdomain prefix and `/`, then a
/// name of at most 63 characters.
pub(crate) fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

fn invalid(field: String, message: String) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field,
        message,
    }
}

/// Validates `object` of type `resource` and returns every field error found.
pub(crate) fn validate(resource: &ResourceType, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let metadata = &object["metadata"];
    let name = metadata["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        });
    } else if let Some(message) = name_error(resource.name_rule, name) {
        causes.push(invalid("metadata.name".into(), message));
    }
    if let Some(labels) = metadata["labels"].as_object() {
        for (key, value) in labels {
            let field = format!("metadata.labels[{key}]");
            if !is_label_key(key) {
                causes.push(invalid(
                    field.clone(),
                    format!(
                        "Invalid value: {key:?}: a label key must be an optional DNS subdomain \
                         prefix and '/', then at most 63 characters of letters, digits, '-', \
                         '_' or '.', starting and ending with a letter or digit"
                    ),
                ));
            }
            match value.as_str() {
                Some(text) if is_label_value(text) => {}
                _ => causes.push(invalid(
                    field,
                    format!(
                        "Invalid value: {value}: a label value must be empty or at most 63 \
                         characters of letters, digits, '-', '_' or '.', starting and ending \
                         with a letter or digit"
                    ),
                )),
            }
        }
    }
    match resource.kind {
        "ConfigMap" => validate_config_map(object, &mut causes),
        "Job" => validate_job(object, &mut causes),
        _ => {}
    }
    causes
}

fn validate_config_map(object: &Value, causes: &mut Vec<Cause>) {
    let mut total = 0usize;
    for section in ["data", "binaryData"] {
        let Some(entries) = object[section].as_object() else {
            continue;
        };
        for (key, value) in entries {
            let key_valid = !key.is_empty()
                && key.len() <= 253
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !key_valid {
                causes.push(invalid(
                    format!("{section}[{key}]"),
                    format!(
                        "Invalid value: {key:?}: a valid config key must consist of letters, \
                         digits, '-', '_' or '.'"
                    ),
                ));
            }
            total += key.len() + value.as_str().map_or(0, str::len);
        }
    }
    if total > CONFIG_MAP_MAX_BYTES {
        causes.push(Cause {
            reason: "FieldValueTooLong",
            field: "data".into(),
            message: format!(
                "Too long: the data holds {total} bytes but a ConfigMap holds at most \
                 {CONFIG_MAP_MAX_BYTES} bytes"
            ),
        });
    }
}

fn validate_job(object: &Value, causes: &mut Vec<Cause>) {
    let template = &object["spec"]["template"];
    if template.is_null() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: "spec.template".into(),
            message: "Required value: a Job needs a pod template".into(),
        });
        return;
    }
    let policy = template["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or_default();
    if policy != "OnFailure" && policy != "Never" {
        causes.push(Cause {
            reason: "FieldValueNotSupported",
            field: "spec.template.spec.restartPolicy".into(),
            message: format!(
                "Unsupported value: {policy:?}: supported values: \"OnFailure\", \"Never\""
            ),
        });
    }
    let containers = template["spec"]["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: "spec.template.spec.containers".into(),
            message: "Required value: a pod template needs at least one container".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::resources::find;
    use serde_json::json;

    #[test]
    fn subdomains_and_labels() {
        assert!(is_subdomain("elb-job-0a1b2c3d"));
        assert!(is_subdomain("a.b-c.d"));
        assert!(!is_subdomain("Upper"));
        assert!(!is_subdomain("trailing-"));
        assert!(!is_subdomain(&"a".repeat(254)));
        assert!(is_label(&"a".repeat(63)));
        assert!(!is_label(&"a".repeat(64)));
        assert!(!is_label("a.b"));
    }

    #[test]
    fn label_keys_and_values() {
        assert!(is_label_key("azure.workload.identity/use"));
        assert!(is_label_key("elb-job-id"));
        assert!(!is_label_key("bad key"));
        assert!(!is_label_key("Example.COM/x"));
        assert!(is_label_value(""));
        assert!(is_label_value("Job_1.a"));
        assert!(!is_label_value("-x"));
        assert!(!is_label_value(&"v".repeat(64)));
    }

    #[test]
    fn invalid_name_and_label_are_reported() {
        let configmaps = find("", "v1", "configmaps").unwrap();
        let object = json!({"metadata": {"name": "Bad_Name", "labels": {"ok": "-bad"}}});
        let causes = validate(configmaps, &object);
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].field, "metadata.name");
        assert_eq!(causes[1].field, "metadata.labels[ok]");
    }

    #[test]
    fn config_map_size_limit() {
        let configmaps = find("", "v1", "configmaps").unwrap();
        let fits =
            json!({"metadata": {"name": "a"}, "data": {"k": "x".repeat(CONFIG_MAP_MAX_BYTES - 1)}});
        assert!(validate(configmaps, &fits).is_empty());
        let too_big =
            json!({"metadata": {"name": "a"}, "data": {"k": "x".repeat(CONFIG_MAP_MAX_BYTES)}});
        let causes = validate(configmaps, &too_big);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].reason, "FieldValueTooLong");
    }

    #[test]
    fn job_needs_restart_policy() {
        let jobs = find("batch", "v1", "jobs").unwrap();
        let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {
            "restartPolicy": "Always", "containers": [{"name": "c", "image": "i"}]}}}});
        let causes = validate(jobs, &job);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.template.spec.restartPolicy");
    }
}
