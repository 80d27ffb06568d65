//! List pagination with `limit` and `continue`, and the `Table` form kubectl requests.

use crate::kube_support::{names, start};
use reqwest::{Method, StatusCode};
use serde_json::json;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn pages_cover_every_object_once() {
    let f = start().await;
    for i in 0..7 {
        f.config_map(&format!("cm-{i}"), json!({"elb-job": "true"}))
            .await;
    }
    f.config_map("unlabelled", json!({})).await;

    let mut seen = Vec::new();
    let mut query = format!("{CONFIGMAPS}?limit=3&labelSelector=elb-job");
    let mut pages = 0;
    loop {
        let (status, page) = f.send(Method::GET, &query, None).await;
        assert_eq!(status, StatusCode::OK);
        pages += 1;
        seen.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(token) => {
                assert!(page["metadata"]["remainingItemCount"].as_u64().unwrap() > 0);
                query = format!("{CONFIGMAPS}?limit=3&labelSelector=elb-job&continue={token}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn continue_token_expires_after_compaction() {
    let f = start().await;
    for i in 0..3 {
        f.config_map(&format!("cm-{i}"), json!({})).await;
    }
    let (_, page) = f
        .send(Method::GET, &format!("{CONFIGMAPS}?limit=1"), None)
        .await;
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    f.config_map("later", json!({})).await;
    f.server.compact_history();

    let (status, error) = f
        .send(
            Method::GET,
            &format!("{CONFIGMAPS}?limit=1&continue={token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(error["kind"], "Status");
    assert_eq!(error["reason"], "Expired");
    assert_eq!(error["code"], 410);
}

#[tokio::test]
async fn malformed_continue_is_bad_request() {
    let f = start().await;
    let (status, error) = f
        .send(Method::GET, &format!("{CONFIGMAPS}?continue=garbage"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["reason"], "BadRequest");
}

#[tokio::test]
async fn list_reports_resource_version() {
    let f = start().await;
    let created = f.config_map("a", json!({})).await;
    let (_, list) = f.send(Method::GET, CONFIGMAPS, None).await;
    assert_eq!(
        list["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    assert!(list["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn table_form_has_name_and_age() {
    let f = start().await;
    f.config_map("a", json!({})).await;
    let response = f
        .client
        .get(format!("{}{CONFIGMAPS}", f.server.url()))
        .bearer_auth(f.server.token())
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .send()
        .await
        .unwrap();
    let table: serde_json::Value = response.json().await.unwrap();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][0]["name"], "Name");
    assert_eq!(table["rows"][0]["cells"][0], "a");
    assert_eq!(table["rows"][0]["object"]["metadata"]["name"], "a");
}
