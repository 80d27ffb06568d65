//! The `token` example against the test Entra ID and managed identity services: it reports
//! which credential worked, never prints the token, and tries managed identity only when
//! asked to.

use elb_test_servers::msi::{ManagedIdentityConfig, ManagedIdentityServer};

use crate::auth_support::{CLIENT_ID, CLIENT_SECRET, Entra, SECRET_CLIENT_ID, TENANT};
use crate::examples_support::{build_example, run_example, stderr, stdout};

/// Returns the variables that the AKS workload identity webhook injects, for `entra`.
fn workload_env(entra: &Entra) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_AUTHORITY_HOST", entra.server.authority_host()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            entra.token_file.display().to_string(),
        ),
        ("SSL_CERT_FILE", entra.ca.cert_path().display().to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reports_workload_identity() {
    let entra = Entra::start().await;
    let binary = build_example("token");
    let output = run_example(&binary, &[], &workload_env(&entra));
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(
        text.contains("trying ClientSecretCredential")
            || text.contains("trying WorkloadIdentityCredential"),
        "{text}"
    );
    assert!(!text.contains("ManagedIdentityCredential"), "{text}");
    assert!(
        text.contains("credential: WorkloadIdentityCredential"),
        "{text}"
    );
    assert!(
        text.contains("token for https://storage.azure.com/.default expires at"),
        "{text}"
    );
    assert_eq!(entra.server.request_count_for(CLIENT_ID), 1);

    // Access tokens are JWTs, whose text starts with "eyJ"; none may be printed.
    assert!(!text.contains("eyJ"), "{text}");
    assert!(!stderr(&output).contains("eyJ"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_uses_scope_argument_and_client_secret() {
    let entra = Entra::start().await;
    let binary = build_example("token");
    let env = vec![
        ("AZURE_CLIENT_ID", SECRET_CLIENT_ID.to_owned()),
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("AZURE_AUTHORITY_HOST", entra.server.authority_host()),
        ("SSL_CERT_FILE", entra.ca.cert_path().display().to_string()),
    ];
    let scope = "https://management.azure.com/.default";
    let output = run_example(&binary, &[scope], &env);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(
        text.contains("credential: ClientSecretCredential"),
        "{text}"
    );
    assert!(text.contains(&format!("token for {scope}")), "{text}");
    let requests = entra.server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].scope.as_deref(), Some(scope));
    assert!(!text.contains(CLIENT_SECRET));
    assert!(!stderr(&output).contains(CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_chain_never_tries_managed_identity() {
    let entra = Entra::start().await;
    let msi = ManagedIdentityServer::start(ManagedIdentityConfig::sample())
        .await
        .unwrap();
    let binary = build_example("token");
    // A wrong secret fails, so the chain moves on. The pod identity variable points managed
    // identity at the test service, which would count a request if the chain tried it.
    let env = vec![
        ("AZURE_CLIENT_ID", SECRET_CLIENT_ID.to_owned()),
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_SECRET", "wrong-secret".to_owned()),
        ("AZURE_AUTHORITY_HOST", entra.server.authority_host()),
        ("SSL_CERT_FILE", entra.ca.cert_path().display().to_string()),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", msi.imds_authority()),
    ];
    let output = run_example(&binary, &[], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("ClientSecretCredential failed"),
        "{message}"
    );
    assert!(message.contains("AzureCliCredential failed"), "{message}");
    assert!(!message.contains("ManagedIdentityCredential"), "{message}");
    assert_eq!(msi.request_count(), 0);
    assert!(!message.contains("wrong-secret"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_when_named() {
    let msi = ManagedIdentityServer::start(ManagedIdentityConfig::sample())
        .await
        .unwrap();
    let binary = build_example("token");
    let env = vec![
        ("ELB_CREDENTIALS", "managed-identity".to_owned()),
        ("ELB_IMDS_ENDPOINT", msi.imds_authority()),
    ];
    let output = run_example(&binary, &[], &env);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(
        text.contains("trying ManagedIdentityCredential for"),
        "{text}"
    );
    assert!(
        text.contains("credential: ManagedIdentityCredential"),
        "{text}"
    );
    assert_eq!(msi.imds_request_count(), 1);
}

#[test]
fn token_without_configuration_lists_needs() {
    let binary = build_example("token");
    let output = run_example(&binary, &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("token: missing configuration, so nothing was sent"),
        "{message}"
    );
    for needed in [
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "`az login`",
        "ELB_CREDENTIALS=managed-identity",
    ] {
        assert!(message.contains(needed), "missing {needed:?} in {message}");
    }
    assert!(stdout(&output).is_empty());
}

#[test]
fn invalid_credential_name_is_rejected() {
    let binary = build_example("token");
    let env = vec![("ELB_CREDENTIALS", "workload,imds".to_owned())];
    let output = run_example(&binary, &[], &env);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("invalid ELB_CREDENTIALS entry \"workload\""),
        "{message}"
    );
}
