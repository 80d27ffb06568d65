//! The job controller: it creates the pods of each Job, moves them through their scripted
//! outcomes one step at a time, keeps the Job's `status` and removes finished Jobs after
//! `ttlSecondsAfterFinished`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::delete::{self, DeleteOptions, Propagation};

mod job_status;

use super::meta::{Key, meta_str, timestamp};
use super::plan::JobPlan;
use super::pods::{PodRun, PodStep, advance, start_pod};
use super::resources::{self, ResourceType};
use super::selectors::LabelSelector;
use super::store::Store;
use job_status::{finished_at, job_condition};

type PodSucceededHook =
    Arc<dyn Fn(Value, Value) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The per-Job bookkeeping of the controller.
pub(crate) struct JobRun {
    pub(crate) plan: JobPlan,
    pub(crate) attempts: usize,
    pub(crate) succeeded: u32,
    pub(crate) failed: u32,
    pub(crate) restarts: u32,
}

#[derive(Default)]
struct Plans {
    default: JobPlan,
    by_name: HashMap<String, JobPlan>,
    by_selector: Vec<(LabelSelector, JobPlan)>,
}

#[derive(Default)]
struct Runs {
    jobs: HashMap<String, JobRun>,
    pods: HashMap<String, PodRun>,
}

struct Inner {
    store: Arc<Store>,
    plans: Mutex<Plans>,
    runs: Mutex<Runs>,
    hooks: Mutex<Vec<PodSucceededHook>>,
    step_lock: tokio::sync::Mutex<()>,
    node_cursor: AtomicUsize,
}

/// The job controller of a [`KubeApiServer`](super::KubeApiServer), advanced by
/// [`step`](Self::step) or on a timer by [`start_ticking`](Self::start_ticking).
///
/// By default every pod succeeds after one step pending and one step running; plans set per
/// Job name or label selector script other outcomes.
#[derive(Clone)]
pub struct JobController {
    inner: Arc<Inner>,
}

/// A running timer that steps the controller; dropping it stops the timer.
pub struct TickerHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TickerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn kind(plural: &str) -> &'static ResourceType {
    resources::RESOURCES
        .iter()
        .find(|r| r.plural == plural)
        .expect("the controller uses served kinds only")
}

impl JobController {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                plans: Mutex::new(Plans::default()),
                runs: Mutex::new(Runs::default()),
                hooks: Mutex::new(Vec::new()),
                step_lock: tokio::sync::Mutex::new(()),
                node_cursor: AtomicUsize::new(0),
            }),
        }
    }

    /// Sets the plan of Jobs that no name or selector plan matches.
    pub fn set_default_plan(&self, plan: JobPlan) {
        lock(&self.inner.plans).default = plan;
    }

    /// Sets the plan of the Job named `name`, in any namespace. It applies to Jobs that
    /// have no pods yet.
    pub fn plan_job_named(&self, name: &str, plan: JobPlan) {
        lock(&self.inner.plans)
            .by_name
            .insert(name.to_string(), plan);
    }

    /// Sets the plan of Jobs whose labels match `selector`, such as `app=blast,shard=01`.
    /// Name plans take precedence, then selector plans in the order they were added.
    ///
    /// # Errors
    ///
    /// Returns a message naming the selector when it cannot be parsed.
    pub fn plan_jobs_matching(&self, selector: &str, plan: JobPlan) -> Result<(), String> {
        let selector = LabelSelector::parse(selector)?;
        lock(&self.inner.plans).by_selector.push((selector, plan));
        Ok(())
    }

    /// Registers `hook`, called with the Job and the pod each time a pod of a Job succeeds,
    /// and awaited before the Job's status counts that success (so before `Complete`).
    pub fn on_pod_succeeded<F, Fut>(&self, hook: F)
    where
        F: Fn(Value, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: PodSucceededHook = Arc::new(move |job, pod| Box::pin(hook(job, pod)));
        lock(&self.inner.hooks).push(hook);
    }

    /// Moves the server's clock forward by `seconds`, for `ttlSecondsAfterFinished` and
    /// timestamps.
    pub fn advance_clock(&self, seconds: i64) {
        self.inner.store.advance_clock(seconds);
    }

    /// Steps the controller every `interval` until the handle is dropped.
    pub fn start_ticking(&self, interval: Duration) -> TickerHandle {
        let controller = self.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                controller.step().await;
            }
        });
        TickerHandle { task }
    }

    /// Advances every Job by one step: creates missing pods, moves each active pod one stage
    /// on, updates the Job's status and removes Jobs whose TTL after finishing has passed.
    ///
    /// # Cancel safety
    ///
    /// Cancelling a step (for example while a pod-succeeded hook runs) can leave a Job's
    /// status one step behind its pods. The next step brings it up to date.
    pub async fn step(&self) {
        let _guard = self.inner.step_lock.lock().await;
        let (jobs, _) = self.inner.store.list("jobs", None);
        for job in jobs {
            self.step_job(job).await;
        }
    }

    fn plan_for(&self, job: &Value) -> JobPlan {
        let plans = lock(&self.inner.plans);
        if let Some(plan) = plans.by_name.get(meta_str(job, "name")) {
            return plan.clone();
        }
        plans
            .by_selector
            .iter()
            .find(|(selector, _)| selector.matches(job))
            .map_or_else(|| plans.default.clone(), |(_, plan)| plan.clone())
    }

    fn ready_nodes(&self) -> (Vec<String>, usize) {
        let (nodes, _) = self.inner.store.list("nodes", None);
        let ready = nodes
            .iter()
            .filter(|n| {
                n["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .map(|n| meta_str(n, "name").to_string())
            .collect();
        (ready, nodes.len())
    }

    /// Picks a ready node round-robin, or `None` when no node is ready.
    pub(crate) fn pick_node(&self) -> (Option<String>, usize) {
        let (ready, total) = self.ready_nodes();
        if ready.is_empty() {
            return (None, total);
        }
        let index = self.inner.node_cursor.fetch_add(1, Ordering::Relaxed) % ready.len();
        (Some(ready[index].clone()), total)
    }

    async fn step_job(&self, job: Value) {
        let store = &self.inner.store;
        let jobs = kind("jobs");
        let key = Key::new(jobs, meta_str(&job, "namespace"), meta_str(&job, "name"));
        let uid = meta_str(&job, "uid").to_string();
        if let Some(finished) = finished_at(&job) {
            self.remove_after_ttl(&job, &key, &finished);
            return;
        }
        let plan = self.plan_for(&job);
        lock(&self.inner.runs)
            .jobs
            .entry(uid.clone())
            .or_insert_with(|| JobRun {
                plan,
                attempts: 0,
                succeeded: 0,
                failed: 0,
                restarts: 0,
            });

        let mut succeeded_pods = Vec::new();
        for pod in self.pods_of(&uid) {
            if let Some(PodStep::Succeeded(pod)) = advance(self, &job, &pod, &uid) {
                succeeded_pods.push(pod);
            }
        }
        let hooks: Vec<PodSucceededHook> = lock(&self.inner.hooks).clone();
        for pod in &succeeded_pods {
            for hook in &hooks {
                hook(job.clone(), pod.clone()).await;
            }
        }

        let now = timestamp(store.now());
        let spec = &job["spec"];
        let backoff_limit = spec["backoffLimit"].as_u64().unwrap_or(6) as u32;
        let completions = spec["completions"].as_u64().unwrap_or(1) as u32;
        let parallelism = spec["parallelism"].as_u64().unwrap_or(1) as u32;
        let (succeeded, failures) = {
            let runs = lock(&self.inner.runs);
            let run = &runs.jobs[&uid];
            (run.succeeded, run.failed + run.restarts)
        };
        let mut conditions = Vec::new();
        let mut completion_time = None;
        if failures > backoff_limit {
            for pod in self.active_pods(&uid) {
                let pod_key = Key::new(
                    kind("pods"),
                    meta_str(&pod, "namespace"),
                    meta_str(&pod, "name"),
                );
                let options = DeleteOptions {
                    propagation: Some(Propagation::Background),
                    ..Default::default()
                };
                if delete::delete(store, kind("pods"), &pod_key, &options).is_ok() {
                    lock(&self.inner.runs)
                        .jobs
                        .get_mut(&uid)
                        .expect("run exists")
                        .failed += 1;
                }
            }
            let message = "Job has reached the specified backoff limit";
            conditions.push(job_condition(
                "FailureTarget",
                "BackoffLimitExceeded",
                message,
                &now,
            ));
            conditions.push(job_condition(
                "Failed",
                "BackoffLimitExceeded",
                message,
                &now,
            ));
        } else if succeeded >= completions {
            let message = "Reached expected number of succeeded pods";
            conditions.push(job_condition(
                "SuccessCriteriaMet",
                "CompletionsReached",
                message,
                &now,
            ));
            conditions.push(job_condition(
                "Complete",
                "CompletionsReached",
                message,
                &now,
            ));
            completion_time = Some(now.clone());
        } else {
            let desired = parallelism.min(completions - succeeded) as usize;
            let active = self.active_pods(&uid).len();
            for _ in active..desired {
                start_pod(self, &job, &uid);
            }
        }
        self.write_job_status(&key, &uid, conditions, completion_time);
    }

    /// Returns the pods owned by the Job with `uid`.
    fn pods_of(&self, uid: &str) -> Vec<Value> {
        let (pods, _) = self.inner.store.list("pods", None);
        pods.into_iter()
            .filter(|p| {
                p["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
            })
            .collect()
    }

    fn active_pods(&self, uid: &str) -> Vec<Value> {
        self.pods_of(uid)
            .into_iter()
            .filter(|p| p["status"]["phase"] == "Pending" || p["status"]["phase"] == "Running")
            .collect()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn with_runs<R>(
        &self,
        f: impl FnOnce(&mut HashMap<String, JobRun>, &mut HashMap<String, PodRun>) -> R,
    ) -> R {
        let mut runs = lock(&self.inner.runs);
        let runs = &mut *runs;
        f(&mut runs.jobs, &mut runs.pods)
    }
}
