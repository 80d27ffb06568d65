//! Helpers shared by the `kube_*` tests: a started server with an HTTPS client, and a reader
//! of watch streams.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;
use futures::StreamExt;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// A started server and a client that trusts its CA.
pub struct Fixture {
    pub server: KubeApiServer,
    pub client: Client,
    pub ca: TestCa,
}

pub async fn start() -> Fixture {
    let ca = TestCa::generate().unwrap();
    let server = KubeApiServer::start(&ca).await.unwrap();
    let client = elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(ca.cert_path())
        .unwrap()
        .http_client()
        .unwrap();
    Fixture { server, client, ca }
}

impl Fixture {
    /// Sends a request with a JSON body (or none) and returns the status and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_typed(method, path, body, "application/json")
            .await
    }

    /// Sends a request with `content_type` and returns the status and JSON body.
    pub async fn send_typed(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.server.url()))
            .bearer_auth(self.server.token());
        if let Some(body) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Creates a ConfigMap in `default` and returns it.
    pub async fn config_map(&self, name: &str, labels: Value) -> Value {
        let body = json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}});
        let (status, created) = self
            .send(
                Method::POST,
                "/api/v1/namespaces/default/configmaps",
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// Starts a watch at `path_and_query` and returns its event reader.
    pub async fn watch(&self, path_and_query: &str) -> Watch {
        let response = self
            .client
            .get(format!("{}{path_and_query}", self.server.url()))
            .bearer_auth(self.server.token())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        Watch {
            stream: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }
}

/// The events of one watch response.
pub struct Watch {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: Vec<u8>,
}

impl Watch {
    /// Returns the next event, or `None` when the stream ends or 5 s pass without one.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.stream.next())
                .await
                .ok()??;
            self.buffer.extend_from_slice(&chunk.unwrap());
        }
    }

    /// Waits for the server to end the stream and returns `true`, or returns `false` when an
    /// event arrives or 5 s pass first.
    pub async fn ends(&mut self) -> bool {
        if !self.buffer.is_empty() {
            return false;
        }
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.stream.next()).await {
                Ok(None) => return true,
                // An empty chunk carries no event, so keep waiting.
                Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Ok(Some(_)) | Err(_) => return false,
            }
        }
    }

    /// Returns the next event that is not a bookmark.
    pub async fn next_change(&mut self) -> Option<Value> {
        loop {
            let event = self.next().await?;
            if event["type"] != "BOOKMARK" {
                return Some(event);
            }
        }
    }
}

/// Returns `metadata.resourceVersion` of `object` as a number.
pub fn version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Returns the names of the items of a list.
pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}
