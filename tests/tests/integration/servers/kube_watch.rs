//! Watches: events from a resource version, selectors, bookmarks, timeouts and 410 Expired.

use std::time::Duration;

use crate::kube_support::{start, version};
use reqwest::Method;
use serde_json::json;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn watch_from_version_sends_later_changes() {
    let f = start().await;
    let first = f.config_map("first", json!({})).await;
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&resourceVersion={}",
            version(&first)
        ))
        .await;

    f.config_map("second", json!({})).await;
    let patch = json!({"data": {"k": "changed"}});
    f.send_typed(
        Method::PATCH,
        &format!("{CONFIGMAPS}/second"),
        Some(patch),
        "application/merge-patch+json",
    )
    .await;
    f.send(Method::DELETE, &format!("{CONFIGMAPS}/second"), None)
        .await;

    let added = watch.next_change().await.unwrap();
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["metadata"]["name"], "second");
    let modified = watch.next_change().await.unwrap();
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["data"]["k"], "changed");
    let deleted = watch.next_change().await.unwrap();
    assert_eq!(deleted["type"], "DELETED");
    assert!(version(&deleted["object"]) > version(&modified["object"]));
}

#[tokio::test]
async fn watch_without_version_lists_current_objects_first() {
    let f = start().await;
    f.config_map("existing", json!({})).await;
    let mut watch = f.watch(&format!("{CONFIGMAPS}?watch=1")).await;
    let event = watch.next_change().await.unwrap();
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "existing");

    f.config_map("later", json!({})).await;
    let event = watch.next_change().await.unwrap();
    assert_eq!(event["object"]["metadata"]["name"], "later");
}

#[tokio::test]
async fn watch_selectors_filter_and_translate() {
    let f = start().await;
    let start_version = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&labelSelector=status%3Drunning&resourceVersion={start_version}"
        ))
        .await;

    f.config_map("queued", json!({"status": "queued"})).await;
    f.config_map("running", json!({"status": "running"})).await;
    let relabel = json!({"metadata": {"labels": {"status": "completed"}}});
    f.send_typed(
        Method::PATCH,
        &format!("{CONFIGMAPS}/running"),
        Some(relabel),
        "application/merge-patch+json",
    )
    .await;
    let relabel = json!({"metadata": {"labels": {"status": "running"}}});
    f.send_typed(
        Method::PATCH,
        &format!("{CONFIGMAPS}/queued"),
        Some(relabel),
        "application/merge-patch+json",
    )
    .await;

    let event = watch.next_change().await.unwrap();
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "running");
    let event = watch.next_change().await.unwrap();
    assert_eq!(
        event["type"], "DELETED",
        "leaving the selector reads as a deletion"
    );
    assert_eq!(event["object"]["metadata"]["name"], "running");
    let event = watch.next_change().await.unwrap();
    assert_eq!(
        event["type"], "ADDED",
        "entering the selector reads as an addition"
    );
    assert_eq!(event["object"]["metadata"]["name"], "queued");
}

#[tokio::test]
async fn watch_one_object_by_field_selector() {
    let f = start().await;
    let start_version = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&fieldSelector=metadata.name%3Db&resourceVersion={start_version}"
        ))
        .await;
    f.config_map("a", json!({})).await;
    f.config_map("b", json!({})).await;
    let event = watch.next_change().await.unwrap();
    assert_eq!(event["object"]["metadata"]["name"], "b");
}

#[tokio::test]
async fn bookmarks_carry_current_version() {
    let f = start().await;
    f.server.set_bookmark_interval(Duration::from_millis(100));
    let created = f.config_map("a", json!({})).await;
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
            version(&created)
        ))
        .await;
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "BOOKMARK");
    assert_eq!(event["object"]["kind"], "ConfigMap");
    assert_eq!(version(&event["object"]), version(&created));
}

#[tokio::test]
async fn no_bookmarks_unless_allowed() {
    let f = start().await;
    f.server.set_bookmark_interval(Duration::from_millis(50));
    let revision = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&resourceVersion={revision}&timeoutSeconds=1"
        ))
        .await;
    assert!(
        watch.ends().await,
        "the stream ends at the timeout with no events"
    );
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let f = start().await;
    let revision = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&resourceVersion={revision}&timeoutSeconds=1"
        ))
        .await;
    f.config_map("a", json!({})).await;
    assert_eq!(watch.next().await.unwrap()["type"], "ADDED");
    assert!(watch.ends().await, "the stream ends after timeoutSeconds");
}

#[tokio::test]
async fn compacted_version_gets_410_expired() {
    let f = start().await;
    let old = f.config_map("a", json!({})).await;
    f.config_map("b", json!({})).await;
    f.server.compact_history();

    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&resourceVersion={}",
            version(&old)
        ))
        .await;
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["kind"], "Status");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    assert!(
        watch.next().await.is_none(),
        "the stream ends after the error"
    );

    let current = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&resourceVersion={current}"
        ))
        .await;
    f.config_map("c", json!({})).await;
    assert_eq!(watch.next_change().await.unwrap()["type"], "ADDED");
}

#[tokio::test]
async fn initial_events_end_with_marked_bookmark() {
    let f = start().await;
    f.config_map("a", json!({})).await;
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
        ))
        .await;
    let added = watch.next().await.unwrap();
    assert_eq!(added["type"], "ADDED");
    let bookmark = watch.next().await.unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn disconnect_ends_open_watches() {
    let f = start().await;
    let revision = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "{CONFIGMAPS}?watch=true&resourceVersion={revision}"
        ))
        .await;
    f.config_map("a", json!({})).await;
    assert_eq!(watch.next().await.unwrap()["type"], "ADDED");
    f.server.disconnect_watches();
    assert!(
        watch.ends().await,
        "the stream ends as after a server restart"
    );
}
