//! A typed description of a search and the batch Jobs it renders to.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;

use crate::k8s::names::{batch_job_name, validate_elb_job_id};
use crate::k8s::search::labels::batch_labels;
use crate::{Error, Result};

/// Retries of a batch Job's pods before the Job fails.
pub const BATCH_BACKOFF_LIMIT: i32 = 3;

/// CPU and memory of the BLAST container, as Kubernetes quantities (`"6"`, `"4G"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU request.
    pub cpu_request: Option<String>,
    /// CPU limit.
    pub cpu_limit: Option<String>,
    /// Memory request.
    pub memory_request: Option<String>,
    /// Memory limit.
    pub memory_limit: Option<String>,
}

/// A search's description: what to run, where the data is, and how many batches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchSpec {
    /// ElasticBLAST search id: `job-` and 32 lowercase hex digits.
    pub elb_job_id: String,
    /// BLAST program, such as `blastn`.
    pub program: String,
    /// BLAST database name.
    pub db: String,
    /// Shard of a partitioned database, such as `03`, or `None`.
    pub shard: Option<String>,
    /// Location of the query batches (a blob URL prefix).
    pub queries: String,
    /// Location of the results (a blob URL prefix).
    pub results: String,
    /// BLAST command-line options.
    pub blast_options: String,
    /// Number of query batches, one Job each.
    pub batches: u32,
    /// Container image of the BLAST container.
    pub image: String,
    /// CPU and memory of the BLAST container.
    pub resources: Resources,
    /// Node selector of the pods.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the pods.
    pub tolerations: Vec<Toleration>,
    /// Seconds after which a finished Job is removed, or `None` to keep it.
    pub ttl_seconds_after_finished: Option<i32>,
}

impl SearchSpec {
    /// Checks the description before any request.
    ///
    /// # Errors
    ///
    /// Returns [`crate::ErrorKind::InvalidInput`] naming the first invalid field.
    pub fn validate(&self) -> Result<()> {
        validate_elb_job_id(&self.elb_job_id)?;
        for (field, value) in [
            ("program", &self.program),
            ("db", &self.db),
            ("image", &self.image),
            ("results", &self.results),
            ("queries", &self.queries),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid_input(format!(
                    "search {} has an empty {field}: set it",
                    self.elb_job_id
                )));
            }
        }
        if self.batches == 0 {
            return Err(Error::invalid_input(format!(
                "search {} has 0 batches: set at least 1",
                self.elb_job_id
            )));
        }
        Ok(())
    }

    /// Renders one batch Job per query batch.
    ///
    /// Each Job runs the image with the variables the ElasticBLAST scripts read
    /// (`ELB_BLAST_PROGRAM`, `ELB_DB`, `ELB_BLAST_OPTIONS`, `ELB_RESULTS`, `ELB_QUERIES`,
    /// `BLAST_ELB_JOB_ID`, `BLAST_ELB_BATCH_NUM`, `JOB_NUM`).
    ///
    /// NOTE: the Jobs run the image's entry point with one container. ElasticBLAST's own
    /// template adds an init container for query download and a results-export container
    /// with its scripts; use [`super::render_template`] with that template to get them.
    ///
    /// # Errors
    ///
    /// Returns the errors of [`SearchSpec::validate`] and of name computation.
    pub fn batch_jobs(&self) -> Result<Vec<Job>> {
        self.validate()?;
        (0..self.batches)
            .map(|batch| self.batch_job(batch))
            .collect()
    }

    fn batch_job(&self, batch: u32) -> Result<Job> {
        let name = batch_job_name(
            &self.program,
            &self.db,
            self.shard.as_deref(),
            batch,
            &self.elb_job_id,
        )?;
        let labels = batch_labels(&self.elb_job_id, &self.db, self.shard.as_deref());
        let env = [
            ("BLAST_ELB_JOB_ID", self.elb_job_id.clone()),
            ("BLAST_ELB_BATCH_NUM", batch.to_string()),
            ("JOB_NUM", format!("{batch:03}")),
            ("ELB_BLAST_PROGRAM", self.program.clone()),
            ("ELB_DB", self.db.clone()),
            ("ELB_BLAST_OPTIONS", self.blast_options.clone()),
            ("ELB_RESULTS", self.results.clone()),
            ("ELB_QUERIES", self.queries.clone()),
        ]
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.to_owned(),
            value: Some(value),
            ..EnvVar::default()
        })
        .collect();
        let container = Container {
            name: "blast".to_owned(),
            image: Some(self.image.clone()),
            env: Some(env),
            resources: Some(self.resource_requirements()),
            ..Container::default()
        };
        let pod_spec = PodSpec {
            containers: vec![container],
            restart_policy: Some("OnFailure".to_owned()),
            node_selector: (!self.node_selector.is_empty()).then(|| self.node_selector.clone()),
            tolerations: (!self.tolerations.is_empty()).then(|| self.tolerations.clone()),
            ..PodSpec::default()
        };
        Ok(Job {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(JobSpec {
                backoff_limit: Some(BATCH_BACKOFF_LIMIT),
                ttl_seconds_after_finished: self.ttl_seconds_after_finished,
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod_spec),
                },
                ..JobSpec::default()
            }),
            status: None,
        })
    }

    fn resource_requirements(&self) -> ResourceRequirements {
        let quantities = |cpu: &Option<String>, memory: &Option<String>| {
            let mut map = BTreeMap::new();
            if let Some(cpu) = cpu {
                map.insert("cpu".to_owned(), Quantity(cpu.clone()));
            }
            if let Some(memory) = memory {
                map.insert("memory".to_owned(), Quantity(memory.clone()));
            }
            (!map.is_empty()).then_some(map)
        };
        let r = &self.resources;
        ResourceRequirements {
            requests: quantities(&r.cpu_request, &r.memory_request),
            limits: quantities(&r.cpu_limit, &r.memory_limit),
            ..ResourceRequirements::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SearchSpec {
        SearchSpec {
            elb_job_id: "job-b2ea1afd5b1c438bb23fbcbdaf1cd4f1".into(),
            program: "blastn".into(),
            db: "core_nt_virus".into(),
            queries: "https://acct.blob.core.windows.net/queries/0a1b2c3d.fa".into(),
            results: "https://acct.blob.core.windows.net/results/0a1b2c3d".into(),
            blast_options: "-evalue 0.05 -outfmt 7".into(),
            batches: 3,
            image: "elbacr.azurecr.io/ncbi/elb:1.4.0".into(),
            resources: Resources {
                cpu_request: Some("6".into()),
                cpu_limit: Some("8".into()),
                memory_request: Some("4G".into()),
                memory_limit: Some("4G".into()),
            },
            node_selector: BTreeMap::from([("agentpool".into(), "blast".into())]),
            ..SearchSpec::default()
        }
    }

    #[test]
    fn renders_one_job_per_batch() {
        let jobs = spec().batch_jobs().unwrap();
        assert_eq!(jobs.len(), 3);
        let job = &jobs[2];
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("blastn-batch-core-nt-virus-job-002-b2ea1afd")
        );
        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["app"], "blast");
        assert_eq!(labels["db"], "core_nt_virus");
        assert_eq!(labels["elb-job-id"], "job-b2ea1afd5b1c438bb23fbcbdaf1cd4f1");
        assert!(!labels.contains_key("shard"));
        let job_spec = job.spec.as_ref().unwrap();
        assert_eq!(job_spec.backoff_limit, Some(3));
        let pod = job_spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("OnFailure"));
        assert_eq!(pod.node_selector.as_ref().unwrap()["agentpool"], "blast");
        let env = pod.containers[0].env.as_ref().unwrap();
        let job_num = env.iter().find(|e| e.name == "JOB_NUM").unwrap();
        assert_eq!(job_num.value.as_deref(), Some("002"));
        let limits = pod.containers[0]
            .resources
            .as_ref()
            .unwrap()
            .limits
            .as_ref()
            .unwrap();
        assert_eq!(limits["cpu"], Quantity("8".into()));
    }

    #[test]
    fn shard_label_is_set_when_sharded() {
        let mut spec = spec();
        spec.shard = Some("07".into());
        let jobs = spec.batch_jobs().unwrap();
        assert_eq!(jobs[0].metadata.labels.as_ref().unwrap()["shard"], "07");
        assert!(
            jobs[0]
                .metadata
                .name
                .as_ref()
                .unwrap()
                .contains("-virus-07-job-000-")
        );
    }

    #[test]
    fn zero_batches_and_empty_fields_are_rejected() {
        let mut spec = spec();
        spec.batches = 0;
        assert!(
            spec.batch_jobs()
                .unwrap_err()
                .message()
                .contains("0 batches")
        );
        let mut spec = self::spec();
        spec.image = String::new();
        assert!(
            spec.batch_jobs()
                .unwrap_err()
                .message()
                .contains("empty image")
        );
    }
}
