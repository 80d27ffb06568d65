//! The health report of an ElasticBLAST service: whether Kubernetes, Entra ID and
//! (optionally) blob storage work, and how.
//!
//! Building a report never fails: each check runs with its own timeout and a failure
//! becomes `{"status": "error", "message": ...}` in the report, which is then `degraded`.
//!
//! ```no_run
//! # async fn example(client: kube::Client, chain: std::sync::Arc<elb_core::auth::DefaultChain>) {
//! use elb_core::health::HealthCheck;
//!
//! let names = chain.clone();
//! let report = HealthCheck::new(env!("CARGO_PKG_VERSION"))
//!     .with_kubernetes(client)
//!     .with_azure_auth(chain, move || names.last_used().map(str::to_owned))
//!     .report()
//!     .await;
//! println!("{}", report.to_json());
//! # }
//! ```

mod report;
mod storage;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use serde_json::{Map, Value};

pub use report::{CheckResult, Checks, HealthReport, HealthStatus};
pub use storage::{ContainerProbe, StorageProbe};

/// Default time limit of each check.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

type NameHook = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// The inputs of a health report: what to check and with which clients.
#[derive(Clone)]
pub struct HealthCheck {
    version: String,
    config: Map<String, Value>,
    kubernetes: Option<kube::Client>,
    credential: Option<(Arc<dyn TokenCredential>, NameHook)>,
    scope: String,
    storage: Option<Arc<dyn StorageProbe>>,
    timeout: Duration,
}

impl HealthCheck {
    /// Creates a check of a service at `version`, with no checks configured yet.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            config: Map::new(),
            kubernetes: None,
            credential: None,
            scope: crate::auth::MANAGEMENT_SCOPE.to_owned(),
            storage: None,
            timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// Sets the `config` object of the report. It must contain no secret.
    pub fn with_config(mut self, config: Map<String, Value>) -> Self {
        self.config = config;
        self
    }

    /// Checks the Kubernetes API by listing nodes with `client`.
    pub fn with_kubernetes(mut self, client: kube::Client) -> Self {
        self.kubernetes = Some(client);
        self
    }

    /// Checks Entra ID by getting a token from `credential`. After a token, `credential_name`
    /// returns the name of the credential that produced it (for a chain, the link used),
    /// reported as `method`.
    pub fn with_azure_auth(
        mut self,
        credential: Arc<dyn TokenCredential>,
        credential_name: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.credential = Some((credential, Arc::new(credential_name)));
        self
    }

    /// Sets the scope of the Azure auth check (default: the management scope).
    pub fn with_auth_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Adds a storage check.
    pub fn with_storage(mut self, probe: Arc<dyn StorageProbe>) -> Self {
        self.storage = Some(probe);
        self
    }

    /// Sets the time limit of each check.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the checks concurrently and returns the report.
    ///
    /// A check that is not configured is an error in the report, except storage, which is
    /// left out.
    ///
    /// # Cancel safety
    ///
    /// The checks only read, so dropping the future at any point is safe.
    pub async fn report(&self) -> HealthReport {
        let (kubernetes, azure_auth, storage) = tokio::join!(
            self.check_kubernetes(),
            self.check_azure_auth(),
            self.check_storage()
        );
        let checks = Checks {
            kubernetes,
            azure_auth,
            storage,
        };
        HealthReport::new(self.version.clone(), self.config.clone(), checks)
    }

    async fn check_kubernetes(&self) -> CheckResult {
        let Some(client) = &self.kubernetes else {
            return CheckResult::Error("kubernetes check not configured".to_owned());
        };
        let nodes = crate::k8s::cluster::list_nodes(client);
        within(self.timeout, "kubernetes", async {
            nodes
                .await
                .map(|nodes| CheckResult::ok_with("nodes", nodes.len()))
                .map_err(|error| error.to_string())
        })
        .await
    }

    async fn check_azure_auth(&self) -> CheckResult {
        let Some((credential, name)) = &self.credential else {
            return CheckResult::Error("azure_auth check not configured".to_owned());
        };
        within(self.timeout, "azure_auth", async {
            credential
                .get_token(&[self.scope.as_str()], None)
                .await
                .map_err(|error| crate::auth::to_elb_error(&error).to_string())?;
            let method = name().unwrap_or_else(|| "unknown".to_owned());
            Ok(CheckResult::ok_with("method", method))
        })
        .await
    }

    async fn check_storage(&self) -> Option<CheckResult> {
        let probe = self.storage.as_ref()?;
        let result = within(self.timeout, "storage", async {
            probe
                .probe()
                .await
                .map(CheckResult::Ok)
                .map_err(|error| error.to_string())
        })
        .await;
        Some(result)
    }
}

/// Runs `check` with a time limit and turns its error or the timeout into an error result.
async fn within(
    timeout: Duration,
    name: &str,
    check: impl Future<Output = Result<CheckResult, String>>,
) -> CheckResult {
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(result)) => result,
        Ok(Err(message)) => CheckResult::Error(message),
        Err(_) => CheckResult::Error(format!(
            "{name} check timed out after {} ms",
            timeout.as_millis()
        )),
    }
}
