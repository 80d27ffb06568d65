//! Blob listing and prefix deletion against Azurite.

use crate::blob_tree_support::{
    azurite_store, create_container, put_blob, put_blob_without_md5, shared_key_store,
};
use elb_core::ErrorKind;
use elb_core::blob::{ListItem, ListOptions};
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};

#[tokio::test]
async fn listing_follows_pages() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "paged").await;
    let mut expected = Vec::new();
    for index in 0..23 {
        let name = format!("runs/file-{index:03}.txt");
        put_blob(&store, "paged", &name, index.to_string().as_bytes()).await;
        expected.push(name);
    }
    put_blob(&store, "paged", "other/outside.txt", b"x").await;

    let options = ListOptions::prefix("runs/").with_page_size(5);
    let pages: Vec<_> = store
        .list_pages("paged", &options)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 5);
    for page in &pages[..4] {
        assert_eq!(page.items.len(), 5);
        assert!(page.next_marker.is_some());
    }
    assert_eq!(pages[4].items.len(), 3);
    assert_eq!(pages[4].next_marker, None);

    let names: Vec<String> = store
        .list("paged", &options)
        .map_ok(|item| item.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names, expected);

    let all = store
        .list_all("paged", &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 24);
}

#[tokio::test]
async fn listing_retries_a_failed_page() {
    let (azurite, direct) = azurite_store().await;
    create_container(&direct, "retry").await;
    for index in 0..9 {
        put_blob(&direct, "retry", &format!("r/{index}"), b"x").await;
    }
    let upstream = format!("http://127.0.0.1:{}", azurite.port());
    let proxy = FaultProxy::start(&upstream, ProxyOptions::default())
        .await
        .unwrap();
    let rule = proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=list").nth(2),
        Fault::internal_error(),
    ));
    let store = shared_key_store(&format!("{}/devstoreaccount1", proxy.url()));

    let options = ListOptions::prefix("r/").with_page_size(4);
    let names: Vec<String> = store
        .list("retry", &options)
        .map_ok(|item| item.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 1);
    let expected: Vec<String> = (0..9).map(|index| format!("r/{index}")).collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn listing_returns_properties() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "props").await;
    let data = b"query_1\tsubject_7\t99.5\n";
    put_blob(&store, "props", "a/hits.tsv", data).await;
    put_blob_without_md5(&store, "props", "a/nomd5.bin", b"12345").await;

    let blobs = store.list_blobs("props", "a/").await.unwrap();
    assert_eq!(blobs.len(), 2);
    let hits = &blobs[0];
    assert_eq!(hits.name, "a/hits.tsv");
    assert_eq!(hits.size, data.len() as u64);
    assert_eq!(hits.content_md5, Some(<[u8; 16]>::from(Md5::digest(data))));
    let properties = store.properties("props", "a/hits.tsv").await.unwrap();
    assert_eq!(hits.etag.as_deref(), Some(properties.etag.as_str()));
    assert!(hits.last_modified.is_some());
    assert_eq!(hits.blob_type.as_deref(), Some("BlockBlob"));
    assert!(hits.content_type.is_some());
    assert_eq!(blobs[1].name, "a/nomd5.bin");
    assert_eq!(blobs[1].size, 5);
    assert_eq!(blobs[1].content_md5, None);
}

#[tokio::test]
async fn listing_groups_by_delimiter() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "tree").await;
    for name in [
        "job/batch_000.out.gz",
        "job/metadata/SUCCESS.txt",
        "job/metadata/batch_list.txt",
        "job/shard_00/batch_000.out.gz",
        "job/top.txt",
    ] {
        put_blob(&store, "tree", name, name.as_bytes()).await;
    }

    let options = ListOptions::prefix("job/").with_delimiter("/");
    let items = store.list_all("tree", &options).await.unwrap();
    let described: Vec<String> = items
        .iter()
        .map(|item| match item {
            ListItem::Blob(blob) => format!("blob {}", blob.name),
            ListItem::Prefix(prefix) => format!("prefix {prefix}"),
        })
        .collect();
    assert_eq!(
        described,
        [
            "blob job/batch_000.out.gz",
            "prefix job/metadata/",
            "prefix job/shard_00/",
            "blob job/top.txt",
        ]
    );
}

#[tokio::test]
async fn listing_decodes_special_names() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "names").await;
    let names = [
        "s/a & b <c> \"d\" 'e'.txt",
        "s/percent %41 plus+ hash# question?.txt",
        "s/résumé/日本語/данные.txt",
        "s/tab\there.txt",
        "s/emoji 🧬.fa",
    ];
    for name in names {
        put_blob(&store, "names", name, name.as_bytes()).await;
    }
    let mut expected: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    expected.sort();

    let blobs = store.list_blobs("names", "s/").await.unwrap();
    let listed: Vec<String> = blobs.iter().map(|blob| blob.name.clone()).collect();
    assert_eq!(listed, expected);
    for blob in &blobs {
        assert_eq!(blob.size, blob.name.len() as u64, "{}", blob.name);
    }

    let prefixes = store
        .list_all(
            "names",
            &ListOptions::prefix("s/résumé/").with_delimiter("/"),
        )
        .await
        .unwrap();
    assert_eq!(prefixes, [ListItem::Prefix("s/résumé/日本語/".into())]);
}

#[tokio::test]
async fn listing_missing_container_fails() {
    let (_azurite, store) = azurite_store().await;
    let error = store
        .list_all("no-such-container", &ListOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.status(), Some(404));
}

#[tokio::test]
async fn listing_rejects_bad_page_size() {
    let (_azurite, store) = azurite_store().await;
    let mut stream = std::pin::pin!(store.list("any", &ListOptions::default().with_page_size(0)));
    let error = stream.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn listing_passes_five_thousand() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "many").await;
    let total = 5_100;
    futures::stream::iter(0..total)
        .for_each_concurrent(32, |index| {
            let store = store.clone();
            async move {
                put_blob_without_md5(&store, "many", &format!("n/{index:05}"), b"").await;
            }
        })
        .await;

    let pages: Vec<_> = store
        .list_pages("many", &ListOptions::prefix("n/"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].items.len(), 5_000);
    assert_eq!(pages[1].items.len(), 100);
    let blobs = store.list_blobs("many", "n/").await.unwrap();
    assert_eq!(blobs.len(), total);
    assert_eq!(blobs.last().unwrap().name, "n/05099");
}

#[tokio::test]
async fn delete_prefix_leaves_nothing() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "del").await;
    for index in 0..40 {
        put_blob(&store, "del", &format!("results/job1/f{index}"), b"x").await;
    }
    put_blob(&store, "del", "results/job10/keep", b"x").await;
    put_blob(&store, "del", "results/job1.txt", b"x").await;

    let deleted = store.delete_prefix("del", "results/job1").await.unwrap();
    assert_eq!(deleted, 40);
    let left = store.list_blobs("del", "results/job1/").await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    let remaining: Vec<_> = store
        .list_blobs("del", "")
        .await
        .unwrap()
        .into_iter()
        .map(|blob| blob.name)
        .collect();
    assert_eq!(remaining, ["results/job1.txt", "results/job10/keep"]);

    let again = store.delete_prefix("del", "results/job1/").await.unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn delete_prefix_rejects_empty() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "keep").await;
    put_blob(&store, "keep", "a", b"x").await;
    for prefix in ["", "/"] {
        let error = store.delete_prefix("keep", prefix).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
    assert_eq!(store.list_blobs("keep", "").await.unwrap().len(), 1);
}
