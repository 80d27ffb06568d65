//! Rendering ElasticBLAST's `job.yaml.template` into one batch Job per query batch.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;

use crate::k8s::names::{batch_job_name, validate_elb_job_id};
use crate::k8s::search::labels::batch_labels;
use crate::k8s::search::spec::BATCH_BACKOFF_LIMIT;
use crate::{Error, Result};

/// The inputs of a batch Job template besides its text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateInputs {
    /// ElasticBLAST search id: `job-` and 32 lowercase hex digits.
    pub elb_job_id: String,
    /// BLAST program, such as `blastn`, for the Job names.
    pub program: String,
    /// BLAST database name, for the Job names and the `db` label.
    pub db: String,
    /// Shard of a partitioned database, or `None`.
    pub shard: Option<String>,
    /// Number of query batches, one Job each.
    pub batches: u32,
    /// Values of `${NAME}` variables other than the per-batch `JOB_NUM` (the batch number
    /// with three digits, `007`) and `BLAST_ELB_BATCH_NUM` (the batch number, `7`).
    pub variables: BTreeMap<String, String>,
}

/// Substitutes every `${NAME}` in `template` with its value from `lookup`.
///
/// Values are inserted as they are, so a value must not contain YAML quotes or line breaks
/// that change the document's structure.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] naming the first variable without a value or a
/// `${` without its closing brace.
pub fn substitute(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut output = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        output.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            Error::invalid_input("invalid Job template: \"${\" without a closing \"}\"")
        })?;
        let name = &after[..end];
        let value = lookup(name).ok_or_else(|| {
            Error::invalid_input(format!(
                "Job template variable ${{{name}}} has no value: add {name} to the variables"
            ))
        })?;
        output.push_str(&value);
        rest = &after[end + 1..];
    }
    output.push_str(rest);
    Ok(output)
}

/// Renders `template` into one Job per batch.
///
/// Each Job gets the name `<program>-batch-<db label>-job-<NNN>-<short id>`, the labels
/// `app=blast`, `elb-job-id`, `db` and, when sharded, `shard` (on the Job and its pods, next
/// to the template's own labels), `restartPolicy: OnFailure` and `backoffLimit: 3`.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] for an invalid id, a variable without a value,
/// or a template that is not a Job after substitution.
pub fn render_template(template: &str, inputs: &TemplateInputs) -> Result<Vec<Job>> {
    validate_elb_job_id(&inputs.elb_job_id)?;
    if inputs.batches == 0 {
        return Err(Error::invalid_input(format!(
            "search {} has 0 batches: set at least 1",
            inputs.elb_job_id
        )));
    }
    (0..inputs.batches)
        .map(|batch| render_batch(template, inputs, batch))
        .collect()
}

fn render_batch(template: &str, inputs: &TemplateInputs, batch: u32) -> Result<Job> {
    let text = substitute(template, |name| match name {
        "JOB_NUM" => Some(format!("{batch:03}")),
        "BLAST_ELB_BATCH_NUM" => Some(batch.to_string()),
        other => inputs.variables.get(other).cloned(),
    })?;
    let invalid = |source: Box<dyn std::error::Error + Send + Sync>| {
        Error::invalid_input(format!(
            "Job template for batch {batch:03} is not a valid Job after substitution"
        ))
        .with_source(source)
    };
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|error| invalid(error.into()))?;
    convert_octal_modes(&mut value);
    let mut job: Job = serde_yaml::from_value(value).map_err(|error| invalid(error.into()))?;

    let name = batch_job_name(
        &inputs.program,
        &inputs.db,
        inputs.shard.as_deref(),
        batch,
        &inputs.elb_job_id,
    )?;
    let labels = batch_labels(&inputs.elb_job_id, &inputs.db, inputs.shard.as_deref());
    job.metadata.name = Some(name);
    job.metadata
        .labels
        .get_or_insert_with(Default::default)
        .extend(labels.clone());

    let spec = job.spec.get_or_insert_with(Default::default);
    spec.backoff_limit = Some(BATCH_BACKOFF_LIMIT);
    spec.template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default)
        .extend(labels);
    spec.template
        .spec
        .get_or_insert_with(Default::default)
        .restart_policy = Some("OnFailure".to_owned());
    Ok(job)
}

/// Converts YAML 1.1 octal file modes (`defaultMode: 0755`) to numbers.
///
/// Kubernetes reads manifests as YAML 1.1, where `0755` is the octal number 493, but
/// serde_yaml follows YAML 1.2 and reads it as a string. Only `defaultMode` and `mode` are
/// converted: they are the integer fields of a pod spec where octal is customary.
fn convert_octal_modes(value: &mut serde_yaml::Value) {
    match value {
        serde_yaml::Value::Mapping(mapping) => {
            for (key, field) in mapping.iter_mut() {
                let is_mode = matches!(key.as_str(), Some("defaultMode" | "mode"));
                let octal = field
                    .as_str()
                    .filter(|text| is_mode && text.len() > 1 && text.starts_with('0'))
                    .and_then(|text| i64::from_str_radix(&text[1..], 8).ok());
                match octal {
                    Some(number) => *field = serde_yaml::Value::Number(number.into()),
                    None => convert_octal_modes(field),
                }
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter_mut().for_each(convert_octal_modes),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ElasticBLAST 1.4's batch Job template of a blastn search of core_nt_pathogen.
    const TEMPLATE: &str = include_str!("testdata/job.yaml.template");

    fn inputs() -> TemplateInputs {
        TemplateInputs {
            elb_job_id: "job-7f598a7eb6aa4e53a122c2a4d85a117f".into(),
            program: "blastn".into(),
            db: "core_nt_pathogen".into(),
            batches: 2,
            ..TemplateInputs::default()
        }
    }

    fn env_value(job: &Job, container: &str, name: &str) -> Option<String> {
        let pod = job.spec.as_ref()?.template.spec.as_ref()?;
        let all = pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten());
        let container = all.into_iter().find(|c| c.name == container)?;
        let var = container.env.as_ref()?.iter().find(|e| e.name == name)?;
        var.value.clone()
    }

    #[test]
    fn real_template_renders_each_batch() {
        let jobs = render_template(TEMPLATE, &inputs()).unwrap();
        assert_eq!(jobs.len(), 2);
        let job = &jobs[1];
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("blastn-batch-core-nt-pathogen-job-001-7f598a7e")
        );
        assert_eq!(env_value(job, "blast", "JOB_NUM").as_deref(), Some("001"));
        assert_eq!(
            env_value(job, "blast", "BLAST_ELB_BATCH_NUM").as_deref(),
            Some("1")
        );
        assert_eq!(
            env_value(job, "import-query-batches", "JOB_NUM").as_deref(),
            Some("001")
        );

        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["app"], "blast");
        assert_eq!(labels["db"], "core_nt_pathogen");
        assert_eq!(labels["elb-job-id"], "job-7f598a7eb6aa4e53a122c2a4d85a117f");

        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(3));
        let pod_labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert_eq!(
            pod_labels["elb-job-id"],
            "job-7f598a7eb6aa4e53a122c2a4d85a117f"
        );
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("OnFailure"));
        assert_eq!(pod.containers.len(), 2);
        let scripts = &pod.volumes.as_ref().unwrap()[2];
        assert_eq!(
            scripts.config_map.as_ref().unwrap().default_mode,
            Some(0o755)
        );
    }

    #[test]
    fn missing_variable_is_named() {
        let error = render_template("name: ${QUERY_BUCKET}", &inputs()).unwrap_err();
        assert!(error.message().contains("${QUERY_BUCKET}"), "{error}");
    }

    #[test]
    fn extra_variables_are_substituted() {
        let mut inputs = inputs();
        inputs.variables.insert("IMAGE".into(), "repo/elb:2".into());
        let text = "apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      \
                    containers:\n      - name: blast\n        image: ${IMAGE}\n";
        let jobs = render_template(text, &inputs).unwrap();
        let pod = jobs[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some("repo/elb:2"));
    }

    #[test]
    fn unclosed_variable_is_rejected() {
        assert!(substitute("a ${JOB_NUM", |_| Some("1".into())).is_err());
        assert_eq!(
            substitute("a-${X}-b", |_| Some("1".into())).unwrap(),
            "a-1-b"
        );
    }
}
