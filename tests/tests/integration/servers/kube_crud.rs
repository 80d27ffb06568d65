//! Create, read, update and delete against the test Kubernetes API server with plain HTTP
//! requests: authentication, `Status` errors, resource versions, selectors and validation.

use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Fixture {
    server: KubeApiServer,
    client: Client,
    _ca: TestCa,
}

async fn start() -> Fixture {
    let ca = TestCa::generate().unwrap();
    let server = KubeApiServer::start(&ca).await.unwrap();
    let client = elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(ca.cert_path())
        .unwrap()
        .http_client()
        .unwrap();
    Fixture {
        server,
        client,
        _ca: ca,
    }
}

impl Fixture {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.server.url()))
            .bearer_auth(self.server.token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn record(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels}, "data": {"job": "{\"status\":\"queued\"}"}})
}

#[tokio::test]
async fn missing_or_wrong_token_is_unauthorized() {
    let f = start().await;
    let url = format!("{}{CONFIGMAPS}", f.server.url());

    let response = f.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "Unauthorized");
    assert_eq!(status["code"], 401);

    let response = f
        .client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotated_token_works_and_revoked_fails() {
    let f = start().await;
    let url = format!("{}{CONFIGMAPS}", f.server.url());
    let old = f.server.token();
    let new = f.server.rotate_token();
    assert_ne!(old, new);
    assert_eq!(f.server.token(), new);

    let response = f.client.get(&url).bearer_auth(&old).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    f.server.revoke_token(&old);
    let response = f.client.get(&url).bearer_auth(&old).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = f.client.get(&url).bearer_auth(&new).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_and_version_need_no_token() {
    let f = start().await;
    for path in ["/readyz", "/livez"] {
        let response = f
            .client
            .get(format!("{}{path}", f.server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    let response = f
        .client
        .get(format!("{}/version", f.server.url()))
        .send()
        .await
        .unwrap();
    let version: Value = response.json().await.unwrap();
    assert_eq!(version["major"], "1");
}

#[tokio::test]
async fn configmap_create_get_update_delete() {
    let f = start().await;
    let (status, created) = f
        .send(
            Method::POST,
            CONFIGMAPS,
            Some(record("elb-job-0a1b2c3d", json!({"elb-job": "true"}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["kind"], "ConfigMap");
    assert_eq!(created["apiVersion"], "v1");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let version: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let path = format!("{CONFIGMAPS}/elb-job-0a1b2c3d");
    let (status, fetched) = f.send(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    let mut changed = fetched.clone();
    changed["data"]["job"] = json!("{\"status\":\"running\"}");
    let (status, updated) = f.send(Method::PUT, &path, Some(changed)).await;
    assert_eq!(status, StatusCode::OK);
    let new_version: u64 = updated["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(new_version > version);
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);

    let (status, deleted) = f.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["metadata"]["name"], "elb-job-0a1b2c3d");
    let (status, error) = f.send(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["reason"], "NotFound");
    assert_eq!(error["details"]["name"], "elb-job-0a1b2c3d");
    assert_eq!(error["details"]["kind"], "configmaps");
    assert_eq!(
        error["message"],
        "configmaps \"elb-job-0a1b2c3d\" not found"
    );
}

#[tokio::test]
async fn http2_is_negotiated() {
    let f = start().await;
    let response = f
        .client
        .get(format!("{}{CONFIGMAPS}", f.server.url()))
        .bearer_auth(f.server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
}

#[tokio::test]
async fn deleting_absent_object_is_not_found() {
    let f = start().await;
    let (status, error) = f
        .send(
            Method::DELETE,
            "/apis/batch/v1/namespaces/default/jobs/gone",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], 404);
    assert_eq!(error["details"]["group"], "batch");
}

#[tokio::test]
async fn duplicate_create_already_exists() {
    let f = start().await;
    let (status, _) = f
        .send(Method::POST, CONFIGMAPS, Some(record("a", json!({}))))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = f
        .send(Method::POST, CONFIGMAPS, Some(record("a", json!({}))))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["reason"], "AlreadyExists");
    assert_eq!(error["message"], "configmaps \"a\" already exists");
}

#[tokio::test]
async fn stale_resource_version_update_conflicts() {
    let f = start().await;
    let (_, created) = f
        .send(Method::POST, CONFIGMAPS, Some(record("a", json!({}))))
        .await;
    let path = format!("{CONFIGMAPS}/a");

    let mut first = created.clone();
    first["data"]["job"] = json!("first");
    let (status, _) = f.send(Method::PUT, &path, Some(first)).await;
    assert_eq!(status, StatusCode::OK);

    let mut second = created.clone();
    second["data"]["job"] = json!("second");
    let (status, error) = f.send(Method::PUT, &path, Some(second)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["reason"], "Conflict");
    assert_eq!(error["details"]["name"], "a");

    let (_, current) = f.send(Method::GET, &path, None).await;
    assert_eq!(current["data"]["job"], "first");
}

#[tokio::test]
async fn update_without_resource_version_is_unconditional() {
    let f = start().await;
    f.send(Method::POST, CONFIGMAPS, Some(record("a", json!({}))))
        .await;
    let (status, updated) = f
        .send(
            Method::PUT,
            &format!("{CONFIGMAPS}/a"),
            Some(json!({"metadata": {"name": "a"}, "data": {"k": "v"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["data"], json!({"k": "v"}));
}

#[tokio::test]
async fn generate_name_adds_random_suffix() {
    let f = start().await;
    let body = json!({"metadata": {"generateName": "elb-job-"}});
    let (_, first) = f.send(Method::POST, CONFIGMAPS, Some(body.clone())).await;
    let (_, second) = f.send(Method::POST, CONFIGMAPS, Some(body)).await;
    let first = first["metadata"]["name"].as_str().unwrap().to_string();
    let second = second["metadata"]["name"].as_str().unwrap().to_string();
    assert!(first.starts_with("elb-job-"));
    assert_eq!(first.len(), "elb-job-".len() + 5);
    assert_ne!(first, second);
}

#[tokio::test]
async fn invalid_names_and_labels_are_422() {
    let f = start().await;
    let cases = [
        (record("Upper_Case", json!({})), "metadata.name"),
        (
            record("ok", json!({"job-id": "-bad-"})),
            "metadata.labels[job-id]",
        ),
        (
            record("ok", json!({"bad key": "x"})),
            "metadata.labels[bad key]",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = f.send(Method::POST, CONFIGMAPS, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(error["reason"], "Invalid");
        assert_eq!(error["details"]["causes"][0]["field"], field);
    }

    let namespace = json!({"metadata": {"name": "a.b"}});
    let (status, error) = f
        .send(Method::POST, "/api/v1/namespaces", Some(namespace))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "namespaces need an RFC 1123 label"
    );
    assert_eq!(error["details"]["kind"], "Namespace");
}

#[tokio::test]
async fn configmap_over_one_mebibyte_is_422() {
    let f = start().await;
    let fits = json!({"metadata": {"name": "fits"}, "data": {"job": "x".repeat(1_048_576 - 3)}});
    let (status, _) = f.send(Method::POST, CONFIGMAPS, Some(fits)).await;
    assert_eq!(status, StatusCode::CREATED);

    let big = json!({"metadata": {"name": "big"}, "data": {"job": "x".repeat(1_048_576)}});
    let (status, error) = f.send(Method::POST, CONFIGMAPS, Some(big)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["details"]["causes"][0]["reason"], "FieldValueTooLong");
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let f = start().await;
    for (name, status, priority) in [
        ("a", "queued", "10"),
        ("b", "running", "50"),
        ("c", "failed", "90"),
    ] {
        let labels = json!({"elb-job": "true", "status": status, "priority": priority});
        f.send(Method::POST, CONFIGMAPS, Some(record(name, labels)))
            .await;
    }
    f.send(Method::POST, CONFIGMAPS, Some(record("other", json!({}))))
        .await;

    let cases = [
        ("labelSelector=elb-job%3Dtrue", vec!["a", "b", "c"]),
        (
            "labelSelector=elb-job%3D%3Dtrue,status!%3Dfailed",
            vec!["a", "b"],
        ),
        (
            "labelSelector=status%20in%20(queued,failed)",
            vec!["a", "c"],
        ),
        (
            "labelSelector=status%20notin%20(queued)",
            vec!["b", "c", "other"],
        ),
        ("labelSelector=!elb-job", vec!["other"]),
        ("labelSelector=priority", vec!["a", "b", "c"]),
        ("fieldSelector=metadata.name%3Db", vec!["b"]),
        (
            "fieldSelector=metadata.name!%3Db&labelSelector=elb-job",
            vec!["a", "c"],
        ),
    ];
    for (query, expected) in cases {
        let (status, list) = f
            .send(Method::GET, &format!("{CONFIGMAPS}?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(list["kind"], "ConfigMapList");
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{query}");
    }

    let (status, error) = f
        .send(
            Method::GET,
            &format!("{CONFIGMAPS}?labelSelector=a%20b%20c"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["reason"], "BadRequest");
}

#[tokio::test]
async fn missing_namespace_is_not_found() {
    let f = start().await;
    let (status, error) = f
        .send(
            Method::POST,
            "/api/v1/namespaces/elb/configmaps",
            Some(record("a", json!({}))),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["details"]["kind"], "namespaces");

    let (status, _) = f
        .send(
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({"metadata": {"name": "elb"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = f
        .send(
            Method::POST,
            "/api/v1/namespaces/elb/configmaps",
            Some(record("a", json!({}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn cluster_kinds_and_default_node() {
    let f = start().await;
    let (status, nodes) = f.send(Method::GET, "/api/v1/nodes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nodes["items"].as_array().unwrap().len(), 1);
    f.server.add_node(
        "aks-e32-1",
        false,
        "Standard_E32s_v3",
        &[("agentpool", "e32")],
    );
    let (_, node) = f.send(Method::GET, "/api/v1/nodes/aks-e32-1", None).await;
    assert_eq!(
        node["metadata"]["labels"]["node.kubernetes.io/instance-type"],
        "Standard_E32s_v3"
    );
    assert_eq!(node["metadata"]["labels"]["agentpool"], "e32");
    assert_eq!(node["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(node["status"]["conditions"][0]["status"], "False");

    let role = json!({"metadata": {"name": "elb-openapi-role"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let (status, created) = f
        .send(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            Some(role),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["apiVersion"], "rbac.authorization.k8s.io/v1");
    assert!(created["metadata"].get("namespace").is_none());

    for (path, kind) in [
        (
            "/api/v1/namespaces/default/serviceaccounts",
            "ServiceAccountList",
        ),
        ("/api/v1/namespaces/default/services", "ServiceList"),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            "DeploymentList",
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            "LeaseList",
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "ClusterRoleBindingList",
        ),
        ("/apis/batch/v1/jobs", "JobList"),
        ("/api/v1/pods", "PodList"),
    ] {
        let (status, list) = f.send(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(list["kind"], kind);
    }
}

#[tokio::test]
async fn discovery_documents_list_resources() {
    let f = start().await;
    let (_, api) = f.send(Method::GET, "/api", None).await;
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, groups) = f.send(Method::GET, "/apis", None).await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"batch"));
    assert!(names.contains(&"apps"));
    let (_, batch) = f.send(Method::GET, "/apis/batch/v1", None).await;
    assert_eq!(batch["groupVersion"], "batch/v1");
    assert_eq!(batch["resources"][0]["name"], "jobs");
    let (status, _) = f.send(Method::GET, "/apis/example.com/v1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
