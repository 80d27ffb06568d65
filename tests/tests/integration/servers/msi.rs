//! The test managed identity service, driven with plain HTTP requests in both endpoint
//! shapes.

use std::time::Duration;

use elb_test_servers::jwt;
use elb_test_servers::msi::{
    EndpointKind, ManagedIdentity, ManagedIdentityConfig, ManagedIdentityServer,
};
use serde_json::Value;

const TENANT: &str = "72f988bf-0000-4000-8000-0000000000aa";
const SYSTEM_CLIENT: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const KUBELET_CLIENT: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const STORAGE: &str = "https://storage.azure.com";

fn config() -> ManagedIdentityConfig {
    ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT)
        .with_user_assigned(ManagedIdentity::user_assigned(
            KUBELET_CLIENT,
            "elb-kubelet",
        ))
        .with_identity_header("header-value-for-tests")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn imds(server: &ManagedIdentityServer, query: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .get(server.imds_token_url())
        .header("Metadata", "true")
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn app_service(server: &ManagedIdentityServer, query: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .get(server.identity_endpoint())
        .header("X-IDENTITY-HEADER", server.identity_header())
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn as_number(value: &Value) -> i64 {
    value
        .as_str()
        .expect("a number as a string")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn imds_issues_system_assigned_token() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let (status, body) = imds(
        &server,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(status, 200, "body: {body}");
    assert_eq!(body["client_id"], SYSTEM_CLIENT);
    assert_eq!(body["resource"], STORAGE);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(as_number(&body["expires_in"]), 86_399);
    assert_eq!(as_number(&body["ext_expires_in"]), 86_399);
    let now = jwt::now_unix();
    assert!(as_number(&body["not_before"]) <= now);
    assert!(as_number(&body["expires_on"]) > now + 86_000);

    let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["aud"], STORAGE);
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], SYSTEM_CLIENT);
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        as_number(&body["expires_on"])
    );
}

#[tokio::test]
async fn imds_selects_user_assigned_identity() {
    let config = config();
    let kubelet = config.user_assigned[0].clone();
    let server = ManagedIdentityServer::start(config).await.unwrap();
    let resource_id = kubelet.resource_id.clone().unwrap();
    let selectors = [
        ("client_id", KUBELET_CLIENT),
        ("object_id", kubelet.object_id.as_str()),
        ("msi_res_id", resource_id.as_str()),
    ];
    for (name, value) in selectors {
        let query = [
            ("api-version", "2018-02-01"),
            ("resource", STORAGE),
            (name, value),
        ];
        let (status, body) = imds(&server, &query).await;
        assert_eq!(status, 200, "selector {name}: {body}");
        assert_eq!(body["client_id"], KUBELET_CLIENT, "selector {name}");
        let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims["oid"], kubelet.object_id.as_str(), "selector {name}");
    }
}

#[tokio::test]
async fn imds_unknown_identity_is_400() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let query = [
        ("api-version", "2018-02-01"),
        ("resource", STORAGE),
        ("client_id", "cccccccc-0000-4000-8000-000000000003"),
    ];
    let (status, body) = imds(&server, &query).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "Identity not found");
}

#[tokio::test]
async fn imds_without_system_identity_is_400() {
    let server = ManagedIdentityServer::start(config().without_system_assigned())
        .await
        .unwrap();
    let (status, body) = imds(
        &server,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_description"], "Identity not found");
}

#[tokio::test]
async fn imds_requires_metadata_header() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let query = [("api-version", "2018-02-01"), ("resource", STORAGE)];
    for header in [None, Some("false"), Some("TRUE")] {
        let mut request = client().get(server.imds_token_url()).query(&query);
        if let Some(value) = header {
            request = request.header("Metadata", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "header {header:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(
            body["error_description"],
            "Required metadata header not specified"
        );
    }
    assert_eq!(server.tokens_issued(), 0);
}

#[tokio::test]
async fn imds_rejects_bad_queries() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let (status, body) = imds(&server, &[("api-version", "2018-02-01")]).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"],
        "Required audience parameter not specified"
    );

    let (status, body) = imds(&server, &[("resource", STORAGE)]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("api-version")
    );

    let query = [
        ("api-version", "2018-02-01"),
        ("resource", STORAGE),
        ("client_id", KUBELET_CLIENT),
        ("object_id", "x"),
    ];
    let (status, _) = imds(&server, &query).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn imds_gone_while_starting() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    server.gone_for(Duration::from_millis(400));
    let query = [("api-version", "2018-02-01"), ("resource", STORAGE)];
    let (status, body) = imds(&server, &query).await;
    assert_eq!(status, 410);
    assert!(body["error"].is_string());

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = imds(&server, &query).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn injected_statuses_come_in_order() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    server.fail_next(1, 410);
    server.fail_next(1, 429);
    server.fail_next(1, 500);
    let query = [("api-version", "2018-02-01"), ("resource", STORAGE)];
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(imds(&server, &query).await.0);
    }
    assert_eq!(statuses, [410, 429, 500, 200]);
    assert_eq!(server.imds_request_count(), 4);
    assert_eq!(server.tokens_issued(), 1);
}

#[tokio::test]
async fn app_service_issues_token() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let (status, body) = app_service(
        &server,
        &[("api-version", "2019-08-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(status, 200, "body: {body}");
    assert_eq!(body["client_id"], SYSTEM_CLIENT);
    assert_eq!(body["resource"], STORAGE);
    assert_eq!(body["token_type"], "Bearer");
    assert!(as_number(&body["expires_on"]) > jwt::now_unix() + 86_000);
    assert!(body.get("expires_in").is_none());

    let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["aud"], STORAGE);
}

#[tokio::test]
async fn app_service_selects_by_principal_id() {
    let config = config();
    let kubelet = config.user_assigned[0].clone();
    let server = ManagedIdentityServer::start(config).await.unwrap();
    let resource_id = kubelet.resource_id.clone().unwrap();
    let selectors = [
        ("client_id", KUBELET_CLIENT),
        ("principal_id", kubelet.object_id.as_str()),
        ("object_id", kubelet.object_id.as_str()),
        ("mi_res_id", resource_id.as_str()),
    ];
    for (name, value) in selectors {
        let query = [
            ("api-version", "2019-08-01"),
            ("resource", STORAGE),
            (name, value),
        ];
        let (status, body) = app_service(&server, &query).await;
        assert_eq!(status, 200, "selector {name}: {body}");
        assert_eq!(body["client_id"], KUBELET_CLIENT, "selector {name}");
    }
}

#[tokio::test]
async fn app_service_checks_identity_header() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let query = [("api-version", "2019-08-01"), ("resource", STORAGE)];
    for header in [None, Some("wrong-value")] {
        let mut request = client().get(server.identity_endpoint()).query(&query);
        if let Some(value) = header {
            request = request.header("X-IDENTITY-HEADER", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "header {header:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["statusCode"], 401);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("X-IDENTITY-HEADER")
        );
    }
}

#[tokio::test]
async fn app_service_unknown_identity_is_400() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let query = [
        ("api-version", "2019-08-01"),
        ("resource", STORAGE),
        ("client_id", "cccccccc-0000-4000-8000-000000000003"),
    ];
    let (status, body) = app_service(&server, &query).await;
    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
    assert!(body["correlationId"].as_str().unwrap().len() == 36);
}

#[tokio::test]
async fn app_service_rejects_old_api_version() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    let (status, body) = app_service(
        &server,
        &[("api-version", "2017-09-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("2017-09-01"));
}

#[tokio::test]
async fn counts_are_kept_per_shape() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    imds(
        &server,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
    )
    .await;
    app_service(
        &server,
        &[("api-version", "2019-08-01"), ("resource", STORAGE)],
    )
    .await;
    app_service(
        &server,
        &[("api-version", "2019-08-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(server.imds_request_count(), 1);
    assert_eq!(server.app_service_request_count(), 2);
    assert_eq!(server.request_count(), 3);

    let requests = server.requests();
    assert_eq!(requests[0].kind, EndpointKind::Imds);
    assert_eq!(requests[1].kind, EndpointKind::AppService);
    assert_eq!(requests[2].status, 200);
    assert!(
        requests[0]
            .query
            .contains(&("resource".to_string(), STORAGE.to_string()))
    );
}

#[tokio::test]
async fn slow_answer_is_delayed() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    server.set_delay(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (status, _) = imds(
        &server,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(status, 200);
    // The delay is a lower bound, so the check holds on a slow machine too.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn short_lifetime_is_reported() {
    let server = ManagedIdentityServer::start(config()).await.unwrap();
    server.set_token_lifetime_secs(30);
    let (status, body) = imds(
        &server,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(as_number(&body["expires_in"]), 30);
    assert!(as_number(&body["expires_on"]) <= jwt::now_unix() + 30);
}
