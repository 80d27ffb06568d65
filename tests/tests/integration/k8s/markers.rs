//! A search's terminal markers and results looked up in Azurite.

use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, UploadOptions};
use elb_core::k8s::search::{BlobMarkers, MarkerSource, Markers};
use elb_test_servers::azurite::{Azurite, AzuriteMode};

const SEARCH: &str = "2025/06/01/0a1b2c3d/job-7f598a7eb6aa4e53a122c2a4d85a117f";

async fn put(store: &BlobStore, name: &str) {
    store
        .upload_bytes("results", name, b"x".to_vec(), &UploadOptions::default())
        .await
        .unwrap();
}

fn markers(success: bool, failure: bool, results_listable: bool) -> Markers {
    Markers {
        success,
        failure,
        results_listable,
    }
}

#[tokio::test]
async fn markers_follow_blobs() {
    let azurite = Azurite::start(AzuriteMode::Http)
        .await
        .expect("Azurite must start for this test");
    let auth = BlobAuth::shared_key(azurite.account_name(), azurite.account_key());
    let store = BlobStore::new(&azurite.blob_endpoint(), auth, BlobOptions::default()).unwrap();
    store.create_container_if_missing("results").await.unwrap();
    let source = BlobMarkers::new(store.clone());
    let url = format!("{}/results/{SEARCH}", azurite.blob_endpoint());

    assert_eq!(
        source.markers(&url).await.unwrap(),
        markers(false, false, false)
    );

    put(
        &store,
        &format!("{SEARCH}/metadata/elastic-blast-config.json"),
    )
    .await;
    put(&store, &format!("{SEARCH}/metadata/SUCCESS.txt")).await;
    // The marker is visible but no result is listable yet.
    assert_eq!(
        source.markers(&url).await.unwrap(),
        markers(true, false, false)
    );

    put(
        &store,
        &format!("{SEARCH}/shard_00/batch_000-blastn-nt.out.gz"),
    )
    .await;
    assert_eq!(
        source.markers(&url).await.unwrap(),
        markers(true, false, true)
    );

    let path = format!("results/{SEARCH}/");
    assert_eq!(
        source.markers(&path).await.unwrap(),
        markers(true, false, true)
    );

    let other = "0a1b2c3e/job-b2ea1afd5b1c438bb23fbcbdaf1cd4f1";
    put(&store, &format!("{other}/metadata/FAILURE.txt")).await;
    put(
        &store,
        &format!("{other}/batch_000-blastn-core_nt_virus.out.gz"),
    )
    .await;
    let failed = source.markers(&format!("results/{other}")).await.unwrap();
    assert_eq!(failed, markers(false, true, false));
}
