//! Applies the OpenAPI service's cluster objects with server-side apply: the ServiceAccount
//! `elb-openapi-sa`, the ClusterRole and ClusterRoleBinding, the Deployment and the
//! LoadBalancer Service `elb-openapi`. Applying again changes nothing.
//!
//! ```sh
//! cargo run -p elb-examples --example apply_openapi -- [--internal]
//! ```
//!
//! `--internal` gives the Service a private address only.
//!
//! Settings (environment variables):
//!
//! - `KUBECONFIG` (default `~/.kube/config`), `ELB_KUBE_CONTEXT` and `ELB_NAMESPACE`
//!   (default `default`).
//! - `ELB_OPENAPI_CLIENT_ID`: the client id of the managed identity the service's pods use
//!   through workload identity.
//! - `ELB_OPENAPI_IMAGE`: the service's container image.

use std::process::ExitCode;

use elb_core::k8s::openapi_objects::OpenApiService;
use elb_examples::config::{kube_client, namespace, var};
use elb_examples::{Args, ExampleError, Missing, run};

const EXAMPLE: &str = "apply_openapi";

fn main() -> ExitCode {
    run(apply())
}

async fn apply() -> Result<(), ExampleError> {
    let args = Args::parse(&[], &["internal"])?;
    let (client_id, image) = (var("ELB_OPENAPI_CLIENT_ID"), var("ELB_OPENAPI_IMAGE"));
    let (Some(client_id), Some(image)) = (client_id.clone(), image.clone()) else {
        let mut missing = Missing::new(EXAMPLE);
        if client_id.is_none() {
            missing = missing.need(
                "ELB_OPENAPI_CLIENT_ID",
                "the client id of the service's user-assigned managed identity",
            );
        }
        if image.is_none() {
            missing = missing.need("ELB_OPENAPI_IMAGE", "the service's container image");
        }
        return Err(missing.into());
    };
    let client = kube_client(EXAMPLE).await?;
    let service = OpenApiService {
        namespace: namespace(),
        client_id,
        image,
        internal_load_balancer: args.flag("internal"),
        ..OpenApiService::default()
    };
    let applied = service.apply(&client).await?;
    for object in &applied {
        let change = if object.changed {
            "changed"
        } else {
            "unchanged"
        };
        println!(
            "{change:<9} {} (resourceVersion {})",
            object.target, object.resource_version
        );
    }
    let changed = applied.iter().filter(|object| object.changed).count();
    println!("applied {} objects, {changed} changed", applied.len());
    Ok(())
}
