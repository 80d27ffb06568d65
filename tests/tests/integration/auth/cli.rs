//! The Azure CLI credential running fake `az` programs: parsing, a missing program, a CLI
//! that is not logged in, and the timeout.

use std::time::Duration;

use elb_core::ErrorKind;
use elb_core::auth::{AzureCliCredential, AzureCliCredentialOptions, STORAGE_SCOPE};

use crate::auth_support::fake_az::{self, CLI_TOKEN, SCRIPT_LOCK};

fn credential(options: AzureCliCredentialOptions) -> AzureCliCredential {
    AzureCliCredential::new(options).unwrap()
}

#[tokio::test]
async fn logged_in_cli_returns_token() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program = fake_az::logged_in(dir.path());
    let credential = credential(AzureCliCredentialOptions::default().with_program(&program));

    let token = credential.token(STORAGE_SCOPE).await.unwrap();
    assert_eq!(token.token.secret(), CLI_TOKEN);
    assert_eq!(token.expires_on.unix_timestamp(), 1_900_000_000);

    // A second call is served from the cache.
    credential.token(STORAGE_SCOPE).await.unwrap();
    let runs = fake_az::recorded_args(dir.path());
    assert_eq!(
        runs,
        vec!["account get-access-token --output json --resource https://storage.azure.com"]
    );
    assert!(!format!("{credential:?}").contains(CLI_TOKEN));
}

#[tokio::test]
async fn tenant_passed_to_cli() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program = fake_az::logged_in(dir.path());
    let options = AzureCliCredentialOptions::default()
        .with_program(&program)
        .with_tenant_id("contoso.onmicrosoft.com");
    credential(options).token(STORAGE_SCOPE).await.unwrap();

    let runs = fake_az::recorded_args(dir.path());
    assert_eq!(runs.len(), 1);
    assert!(
        runs[0].ends_with("--tenant contoso.onmicrosoft.com"),
        "{}",
        runs[0]
    );
}

#[tokio::test]
async fn missing_cli_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("no-such-az");
    let error = credential(AzureCliCredentialOptions::default().with_program(&program))
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let text = error.to_string();
    assert!(
        text.contains("install the Azure CLI or choose another credential"),
        "{text}"
    );
    assert!(text.contains("no-such-az"), "{text}");
}

#[tokio::test]
async fn logged_out_cli_says_run_az_login() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program = fake_az::logged_out(dir.path());
    let error = credential(AzureCliCredentialOptions::default().with_program(&program))
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.to_string().contains("run `az login`"), "{error}");
}

#[tokio::test]
async fn failing_cli_reports_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program =
        fake_az::write_script(dir.path(), "echo 'ERROR: network unreachable' >&2\nexit 3");
    let error = credential(AzureCliCredentialOptions::default().with_program(&program))
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Authentication);
    assert!(error.to_string().contains("exit code 3"), "{error}");
    let cause = std::error::Error::source(&error).expect("stderr kept as the cause");
    assert!(cause.to_string().contains("network unreachable"));
}

#[tokio::test]
async fn slow_cli_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program = fake_az::write_script(dir.path(), "exec sleep 30");
    let options = AzureCliCredentialOptions::default()
        .with_program(&program)
        .with_timeout(Duration::from_millis(300));
    let error = credential(options).token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert!(error.to_string().contains("did not finish"), "{error}");
}

#[tokio::test]
async fn garbage_output_is_service_error() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program = fake_az::write_script(dir.path(), "echo 'not json'");
    let error = credential(AzureCliCredentialOptions::default().with_program(&program))
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Service);
}
