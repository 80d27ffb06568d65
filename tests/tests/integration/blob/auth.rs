//! Each kind of blob authorization against Azurite: bearer tokens over HTTPS with OAuth,
//! account SAS, anonymous reads of a public container, and a SAS kept out of errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::blob_support::*;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use bytes::Bytes;
use elb_core::ErrorKind;
use elb_core::blob::{
    AccountSas, BlobAuth, BlobOptions, BlobRequest, BlobStore, BlobUrl, DownloadOptions,
    UploadOptions,
};
use elb_core::tls::TlsOptions;
use elb_test_servers::azurite::{Azurite, AzuriteMode};
use elb_test_servers::tls::TestCa;
use http::Method;
use secrecy::ExposeSecret;
use time::OffsetDateTime;

/// A credential that returns one fixed token and counts the requests for it.
#[derive(Debug)]
struct FixedToken {
    token: String,
    scopes_seen: std::sync::Mutex<Vec<String>>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.scopes_seen
            .lock()
            .unwrap()
            .extend(scopes.iter().map(|scope| scope.to_string()));
        Ok(AccessToken::new(
            self.token.clone(),
            OffsetDateTime::now_utc() + Duration::from_secs(3600),
        ))
    }
}

fn https_options(ca: &TestCa) -> BlobOptions {
    BlobOptions {
        tls: TlsOptions::new()
            .with_root_certificate_file(ca.cert_path())
            .unwrap(),
        ..options()
    }
}

#[tokio::test]
async fn bearer_token_round_trip_over_https() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca))
        .await
        .expect("Azurite must start in HTTPS OAuth mode");
    let credential = Arc::new(FixedToken {
        token: azurite.oauth_token(
            "00000000-0000-0000-0000-000000000001",
            Duration::from_secs(3600),
        ),
        scopes_seen: Default::default(),
        calls: AtomicUsize::new(0),
    });
    let store = BlobStore::new(
        &azurite.blob_endpoint(),
        BlobAuth::Credential(credential.clone()),
        https_options(&ca),
    )
    .unwrap();

    assert!(store.create_container_if_missing("queries").await.unwrap());
    let path = data_dir().join("queries/pathogen-1000.fa");
    let options = UploadOptions {
        block_size: 512 * 1024,
        single_put_max: 512 * 1024,
        ..UploadOptions::default()
    };
    let report = store
        .upload_file("queries", "pathogen-1000.fa", &path, &options)
        .await
        .unwrap();
    assert_eq!(report.blocks, 8);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.fa");
    let download = store
        .download_file(
            "queries",
            "pathogen-1000.fa",
            &target,
            &DownloadOptions::default(),
        )
        .await
        .unwrap();
    assert!(download.verified);
    assert_eq!(md5_file(&target), md5_file(&path));

    // The token is cached: one token request served every blob request.
    assert_eq!(credential.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        credential.scopes_seen.lock().unwrap().as_slice(),
        ["https://storage.azure.com/.default"]
    );
}

#[tokio::test]
async fn bearer_token_is_rejected_over_http() {
    let credential = Arc::new(FixedToken {
        token: "unused".to_owned(),
        scopes_seen: Default::default(),
        calls: AtomicUsize::new(0),
    });
    let error = BlobStore::new(
        "http://127.0.0.1:10000/devstoreaccount1",
        BlobAuth::Credential(credential),
        BlobOptions::default(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("https"), "{}", error.message());
}

#[tokio::test]
async fn expired_bearer_token_is_authentication_error() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca))
        .await
        .expect("Azurite must start in HTTPS OAuth mode");
    let token =
        elb_test_servers::azurite::storage_token("00000000-0000-0000-0000-000000000001", -600);
    let credential = Arc::new(FixedToken {
        token,
        scopes_seen: Default::default(),
        calls: AtomicUsize::new(0),
    });
    let store = BlobStore::new(
        &azurite.blob_endpoint(),
        BlobAuth::Credential(credential.clone()),
        https_options(&ca),
    )
    .unwrap();
    let error = store
        .create_container_if_missing("queries")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Authentication, "{error:?}");
    // Azurite 3.35 rejects an expired token with 403, so 401 and 403 both pass.
    assert!(matches!(error.status(), Some(401 | 403)), "{error:?}");
    // After the rejection the cached token is dropped and fetched once more.
    assert_eq!(credential.calls.load(Ordering::SeqCst), 2, "{error:?}");
}

#[tokio::test]
async fn account_sas_round_trip() {
    let (azurite, admin) = http_store("results").await;
    let key = secrecy::SecretString::from(azurite.account_key().to_owned());
    let sas = AccountSas::new(OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .sign(azurite.account_name(), &key)
        .unwrap();

    // A SAS URL of a blob carries the SAS into the store.
    let blob_url = format!(
        "{}/results/dir/a%20b.fa?{}",
        azurite.blob_endpoint(),
        sas.expose_secret()
    );
    let url = BlobUrl::parse(&blob_url).unwrap();
    assert!(!url.to_string().contains("sig="));
    let store = BlobStore::from_url(&url, BlobAuth::Anonymous, options()).unwrap();
    let path = data_dir().join("queries/pathogen-100.fa");
    store
        .upload_file(
            url.container().unwrap(),
            url.name().unwrap(),
            &path,
            &UploadOptions {
                block_size: 100 * 1024,
                single_put_max: 100 * 1024,
                ..UploadOptions::default()
            },
        )
        .await
        .unwrap();
    let (data, report) = admin
        .download_bytes("results", "dir/a b.fa", &DownloadOptions::default())
        .await
        .unwrap();
    assert!(report.verified);
    assert_eq!(md5_bytes(&data), md5_file(&path));

    // A read-only SAS lists and reads but cannot delete.
    let read_only = AccountSas::new(OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .with_permissions("rl")
        .sign(azurite.account_name(), &key)
        .unwrap();
    let reader = BlobStore::new(
        &azurite.blob_endpoint(),
        BlobAuth::Sas(read_only),
        options(),
    )
    .unwrap();
    assert!(reader.exists("results", "dir/a b.fa").await.unwrap());
    let error = reader
        .delete_blob("results", "dir/a b.fa")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error:?}");
    assert_eq!(error.status(), Some(403));
    assert!(!format!("{error:?}").contains("sig="));
    assert!(!error.to_string().contains("sig="));
}

#[tokio::test]
async fn anonymous_read_of_public_container() {
    let (azurite, admin) = http_store("public").await;
    let set_access = BlobRequest::new("set container acl", Method::PUT)
        .container("public")
        .query("restype", "container")
        .query("comp", "acl")
        .header("x-ms-blob-public-access", "blob");
    admin.send(&set_access).await.unwrap();
    let content = Bytes::from_static(b">q1\nMKTAYIAKQR\n");
    admin
        .upload_bytes(
            "public",
            "open.fa",
            content.clone(),
            &UploadOptions::default(),
        )
        .await
        .unwrap();

    let anonymous =
        BlobStore::new(&azurite.blob_endpoint(), BlobAuth::Anonymous, options()).unwrap();
    let properties = anonymous.properties("public", "open.fa").await.unwrap();
    assert_eq!(properties.size, content.len() as u64);
    let (data, report) = anonymous
        .download_bytes("public", "open.fa", &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(data, content);
    assert!(report.verified);

    let error = anonymous
        .upload_bytes("public", "write.fa", content, &UploadOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::PermissionDenied | ErrorKind::Authentication | ErrorKind::NotFound
        ),
        "{error:?}"
    );
}
