//! Gets an Entra ID token with the default credential chain and prints which credential
//! produced it. The token itself is never printed.
//!
//! ```sh
//! cargo run -p elb-examples --example token -- [SCOPE]
//! ```
//!
//! `SCOPE` defaults to the blob data plane, `https://storage.azure.com/.default`.
//!
//! Settings (environment variables):
//!
//! - `ELB_CREDENTIALS`: the credentials to try, in order, separated by commas, from
//!   `client-secret`, `workload-identity`, `managed-identity` and `azure-cli` (default
//!   `client-secret,workload-identity,azure-cli`). Managed identity sends requests to the
//!   instance metadata address 169.254.169.254, so it is tried only when named here.
//! - `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_CLIENT_SECRET` for a client secret.
//! - `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and
//!   `AZURE_AUTHORITY_HOST` for workload identity, as the AKS webhook sets them.
//! - `az login` for the Azure CLI.
//! - `ELB_IMDS_ENDPOINT`: another managed identity endpoint than 169.254.169.254.
//! - `SSL_CERT_FILE`: extra root certificates.

use std::process::ExitCode;

use elb_core::auth::STORAGE_SCOPE;
use elb_core::env::{ProcessEnv, non_empty};
use elb_examples::config::credential_chain;
use elb_examples::{Args, ExampleError, Missing, run};

const EXAMPLE: &str = "token";

/// The variables that configure at least one credential of the chain.
const CONFIGURING_VARIABLES: [&str; 3] = [
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "ELB_CREDENTIALS",
];

fn main() -> ExitCode {
    run(token())
}

async fn token() -> Result<(), ExampleError> {
    let args = Args::parse(&[], &[])?;
    let scope = match args.positional.as_slice() {
        [] => STORAGE_SCOPE.to_owned(),
        [scope] => scope.clone(),
        _ => {
            return Err(ExampleError::Other(
                "too many arguments: pass at most one scope".to_owned(),
            ));
        }
    };
    let configured = CONFIGURING_VARIABLES
        .iter()
        .any(|name| non_empty(&ProcessEnv, name).is_some());
    let has_cli = which_az();
    if !configured && !has_cli {
        return Err(Missing::new(EXAMPLE)
            .need(
                "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET",
                "a client secret credential",
            )
            .need(
                "or AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE",
                "workload identity, as the AKS webhook injects it",
            )
            .need("or `az login`", "the Azure CLI (az is not on PATH)")
            .need(
                "or ELB_CREDENTIALS=managed-identity",
                "managed identity, on an Azure VM or AKS node",
            )
            .into());
    }

    let chain = credential_chain()?;
    println!("trying {} for {scope}", chain.credential_names().join(", "));
    let token = chain.token(&scope).await?;
    let name = chain.last_used().unwrap_or("unknown");
    let lifetime = token.expires_on - time::OffsetDateTime::now_utc();
    println!("credential: {name}");
    println!(
        "token for {scope} expires at {} (in {} min)",
        token.expires_on,
        lifetime.whole_minutes()
    );
    Ok(())
}

/// Returns whether an `az` program is on `PATH`.
fn which_az() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|folder| folder.join("az").is_file()))
}
