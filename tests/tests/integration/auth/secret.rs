//! The client secret credential against the test token service.

use elb_core::ErrorKind;
use elb_core::auth::{ClientSecretCredential, ClientSecretCredentialOptions, STORAGE_SCOPE};
use elb_core::env::MapEnv;
use elb_test_servers::entra::ClientAuthMethod;
use secrecy::SecretString;

use crate::auth_support::{CLIENT_SECRET, Entra, SECRET_CLIENT_ID, TENANT, fast_retry};

fn options(entra: &Entra, secret: &str) -> ClientSecretCredentialOptions {
    ClientSecretCredentialOptions::new(SECRET_CLIENT_ID, TENANT, SecretString::from(secret))
        .with_authority_host(entra.server.authority_host())
        .with_tls(entra.tls())
        .with_retry(fast_retry())
}

#[tokio::test]
async fn secret_from_env_gets_token() {
    let entra = Entra::start().await;
    let env = MapEnv::new()
        .with("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .with("AZURE_CLIENT_ID", SECRET_CLIENT_ID)
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_AUTHORITY_HOST", entra.server.authority_host());
    let credential = ClientSecretCredential::from_env(&env, entra.tls()).unwrap();
    let token = credential.token(STORAGE_SCOPE).await.unwrap();

    let claims = elb_test_servers::jwt::claims(token.token.secret()).unwrap();
    assert_eq!(claims["appid"], SECRET_CLIENT_ID);
    assert_eq!(claims["aud"], "https://storage.azure.com");
    let records = entra.server.requests();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].method, Some(ClientAuthMethod::Secret));
}

#[tokio::test]
async fn aadsts7000215_wrong_secret() {
    let entra = Entra::start().await;
    let wrong = "Zz9~wrong-secret-value-never-printed";
    let credential = ClientSecretCredential::new(options(&entra, wrong)).unwrap();
    let error = credential.token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.code(), Some("AADSTS7000215"));
    assert_eq!(error.kind(), ErrorKind::Authentication);
    assert_eq!(error.status(), Some(401));
    let text = error.to_string();
    assert!(text.contains("wrong or expired"), "{text}");
    assert!(text.contains("AZURE_CLIENT_SECRET"), "{text}");
    for printed in [text, format!("{error:?}"), format!("{credential:?}")] {
        assert!(!printed.contains(wrong), "{printed}");
    }
    assert_eq!(entra.server.request_count(), 1);
}

#[tokio::test]
async fn untrusted_authority_is_transport_error() {
    let entra = Entra::start().await;
    let options = options(&entra, CLIENT_SECRET).with_tls(elb_core::tls::TlsOptions::new());
    let error = ClientSecretCredential::new(options)
        .unwrap()
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Transport);
    assert!(!error.to_string().contains(CLIENT_SECRET));
    assert!(!format!("{error:?}").contains(CLIENT_SECRET));
}
