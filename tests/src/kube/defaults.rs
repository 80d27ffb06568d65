//! Fields the real control plane fills in when an object is created: API defaults for Jobs
//! and Services, and the results that the Service and Deployment controllers and the cloud
//! provider would write soon after.
//!
//! NOTE: Deployments become available and LoadBalancer Services get an external IP at once.
//! On AKS both take seconds to minutes, so code that waits for them is not exercised here.

use serde_json::{Value, json};

use super::meta::meta_str;

/// Fills in the server-set fields of a new object of `kind`, whose metadata (name and uid
/// included) is already final.
pub(crate) fn apply_defaults(kind: &str, object: &mut Value, ordinal: u64) {
    match kind {
        "Job" => job(object),
        "Service" => service(object, ordinal),
        "Deployment" => deployment(object),
        _ => {}
    }
}

fn set_if_absent(target: &mut Value, field: &str, value: Value) {
    if target.get(field).is_none_or(Value::is_null) {
        target[field] = value;
    }
}

fn job(object: &mut Value) {
    let uid = meta_str(object, "uid").to_string();
    let name = meta_str(object, "name").to_string();
    let spec = &mut object["spec"];
    set_if_absent(spec, "backoffLimit", json!(6));
    set_if_absent(spec, "completions", json!(1));
    set_if_absent(spec, "parallelism", json!(1));
    set_if_absent(spec, "completionMode", json!("NonIndexed"));
    set_if_absent(spec, "suspend", json!(false));
    set_if_absent(
        spec,
        "selector",
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
    );

    let labels = &mut spec["template"]["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[key] = json!(value);
    }
}

fn service(object: &mut Value, ordinal: u64) {
    // Addresses come from the resource version, so each Service gets its own.
    let cluster_ip = format!("10.0.{}.{}", (ordinal / 250) % 250, ordinal % 250 + 1);
    let spec = &mut object["spec"];
    set_if_absent(spec, "type", json!("ClusterIP"));
    set_if_absent(spec, "clusterIP", json!(cluster_ip));
    set_if_absent(spec, "clusterIPs", json!([spec["clusterIP"].clone()]));
    set_if_absent(spec, "sessionAffinity", json!("None"));
    if spec["type"] == "LoadBalancer" {
        let external_ip = format!("20.1.{}.{}", (ordinal / 250) % 250, ordinal % 250 + 1);
        object["status"] = json!({"loadBalancer": {"ingress": [{"ip": external_ip}]}});
    }
}

fn deployment(object: &mut Value) {
    let spec = &mut object["spec"];
    set_if_absent(spec, "replicas", json!(1));
    let replicas = spec["replicas"].clone();
    object["status"] = json!({
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_gets_selector_and_labels() {
        let mut object = json!({"metadata": {"name": "j", "uid": "u"}, "spec": {"backoffLimit": 3, "template": {}}});
        apply_defaults("Job", &mut object, 7);
        assert_eq!(object["spec"]["backoffLimit"], 3);
        assert_eq!(object["spec"]["completions"], 1);
        assert_eq!(
            object["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u"
        );
        assert_eq!(
            object["spec"]["template"]["metadata"]["labels"]["job-name"],
            "j"
        );
    }

    #[test]
    fn load_balancer_gets_addresses() {
        let mut object = json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}});
        apply_defaults("Service", &mut object, 3);
        assert_eq!(object["spec"]["clusterIP"], "10.0.0.4");
        assert_eq!(object["spec"]["clusterIPs"], json!(["10.0.0.4"]));
        assert_eq!(
            object["status"]["loadBalancer"]["ingress"][0]["ip"],
            "20.1.0.4"
        );
    }

    #[test]
    fn deployment_is_available() {
        let mut object = json!({"metadata": {"name": "d"}, "spec": {"replicas": 2}});
        apply_defaults("Deployment", &mut object, 1);
        assert_eq!(object["status"]["availableReplicas"], 2);
        assert_eq!(object["status"]["conditions"][0]["type"], "Available");
    }
}
