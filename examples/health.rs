//! Prints the health report of an ElasticBLAST service as the OpenAPI service's
//! `GET /v1/health` returns it: whether the Kubernetes API and Entra ID work, which credential
//! produced the token, and, when a storage account is set, whether blob storage is readable.
//!
//! ```sh
//! cargo run -p elb-examples --example health
//! ```
//!
//! It exits 0 when the report is `healthy` and 1 when it is `degraded`.
//!
//! Settings (environment variables):
//!
//! - `KUBECONFIG` (default `~/.kube/config`) and `ELB_KUBE_CONTEXT`.
//! - the credentials of `ELB_CREDENTIALS`, as described at the top of `token.rs`; the token
//!   is requested for `ELB_HEALTH_SCOPE` (default `https://management.azure.com/.default`).
//! - optional: `ELB_STORAGE_URL` and its authorization (see `upload.rs`), to also list one
//!   blob of the `results` container.

use std::process::ExitCode;
use std::sync::Arc;

use elb_core::health::{ContainerProbe, HealthCheck};
use elb_examples::config::{credential_chain, kube_client, storage, var};
use elb_examples::{ExampleError, run};

const EXAMPLE: &str = "health";

fn main() -> ExitCode {
    run(health())
}

async fn health() -> Result<(), ExampleError> {
    let client = kube_client(EXAMPLE).await?;
    let chain = credential_chain()?;
    let names = chain.clone();
    let mut check = HealthCheck::new(env!("CARGO_PKG_VERSION"))
        .with_kubernetes(client)
        .with_azure_auth(chain, move || names.last_used().map(str::to_owned));
    if let Some(scope) = var("ELB_HEALTH_SCOPE") {
        check = check.with_auth_scope(scope);
    }
    if var("ELB_STORAGE_URL").is_some() {
        let settings = storage(EXAMPLE)?;
        check = check.with_storage(Arc::new(ContainerProbe::new(settings.store, "results")));
    }
    let report = check.report().await;
    let json = report.to_json();
    let text = serde_json::to_string_pretty(&json)
        .map_err(|error| ExampleError::Other(format!("cannot format the report: {error}")))?;
    println!("{text}");
    if json["status"] == "healthy" {
        Ok(())
    } else {
        Err(ExampleError::Other(
            "the service is degraded: see the checks above".to_owned(),
        ))
    }
}
