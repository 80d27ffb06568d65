//! Watch streams: newline-separated JSON events (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`,
//! `ERROR`) sent over a chunked response.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures::SinkExt;
use futures::channel::mpsc;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::meta::Key;
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Event, EventType, Store};
use super::table::table;

/// The parameters of one watch request.
pub(crate) struct WatchRequest {
    /// The watched resource type.
    pub(crate) resource: &'static ResourceType,
    /// The namespace, or `None` for every namespace.
    pub(crate) namespace: Option<String>,
    /// The label selector objects must match.
    pub(crate) labels: LabelSelector,
    /// The field selector objects must match.
    pub(crate) fields: FieldSelector,
    /// The resource version to start after; `None` (or `0`) starts with the current objects.
    pub(crate) resource_version: Option<u64>,
    /// Whether to send the current objects as `ADDED` events first, then a bookmark that marks
    /// their end (`sendInitialEvents=true`).
    pub(crate) send_initial_events: bool,
    /// Whether to send periodic `BOOKMARK` events.
    pub(crate) bookmarks: bool,
    /// How long the stream lasts, or `None` until the client leaves.
    pub(crate) timeout: Option<Duration>,
    /// Whether objects are sent in the `Table` form.
    pub(crate) as_table: bool,
}

impl WatchRequest {
    fn matches(&self, key: &Key, object: &Value) -> bool {
        key.plural == self.resource.plural
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == key.namespace)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }

    /// Returns the event type a watcher with these selectors receives for `event`, if any: an
    /// object that stops matching is `DELETED` and one that starts matching is `ADDED`.
    fn translate(&self, event: &Event) -> Option<EventType> {
        let now = self.matches(&event.key, &event.object);
        let before = event
            .previous
            .as_ref()
            .is_some_and(|p| self.matches(&event.key, p));
        match (event.kind, before, now) {
            (EventType::Modified, true, false) => Some(EventType::Deleted),
            (EventType::Modified, false, true) => Some(EventType::Added),
            (kind, _, true) => Some(kind),
            _ => None,
        }
    }

    fn encode(&self, kind: &str, object: &Value, store: &Store) -> Bytes {
        let object = if self.as_table && kind != "BOOKMARK" && kind != "ERROR" {
            let version = object["metadata"]["resourceVersion"].as_str().unwrap_or("");
            table(std::slice::from_ref(object), version, store.now())
        } else {
            object.clone()
        };
        let mut line = json!({"type": kind, "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    fn bookmark(&self, revision: u64, initial_end: bool) -> Value {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": metadata,
        })
    }
}

/// Starts a watch and returns the streaming response.
///
/// A start from a resource version older than the retained history sends one `ERROR` event
/// with a 410 `Expired` status and ends, as the real server does.
pub(crate) fn start(
    store: Arc<Store>,
    request: WatchRequest,
    bookmark_interval: Duration,
) -> Response {
    let (mut sender, receiver) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        let mut disconnect = store.disconnect_signal();
        let mut initial = Vec::new();
        let start = match request.resource_version.filter(|v| *v != 0) {
            Some(version) if !request.send_initial_events => version,
            _ => {
                let (objects, revision) =
                    store.list(request.resource.plural, request.namespace.as_deref());
                initial = objects;
                revision
            }
        };
        let (backlog, mut live) = match store.watch_from(start) {
            Ok(subscription) => subscription,
            Err(error) => {
                let line = request.encode("ERROR", &error.to_status(), &store);
                let _ = sender.send(Ok(line)).await;
                return;
            }
        };
        let mut last_sent = start;
        for object in initial {
            let key = object_key(&request, &object);
            if request.matches(&key, &object) {
                let _ = sender
                    .send(Ok(request.encode("ADDED", &object, &store)))
                    .await;
            }
        }
        if request.send_initial_events && request.bookmarks {
            let mark = request.bookmark(start, true);
            let _ = sender
                .send(Ok(request.encode("BOOKMARK", &mark, &store)))
                .await;
        }
        for event in backlog {
            last_sent = event.revision;
            let Some(kind) = request.translate(&event) else {
                continue;
            };
            let line = request.encode(kind.as_str(), &event.object, &store);
            if sender.send(Ok(line)).await.is_err() {
                return;
            }
        }

        let deadline = request.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(bookmark_interval);
        ticker.tick().await;
        loop {
            let timeout = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let line = tokio::select! {
                _ = timeout => return,
                _ = disconnect.changed() => return,
                _ = ticker.tick() => {
                    // The tick also ends the task of a watch whose client has left.
                    if sender.is_closed() {
                        return;
                    }
                    if !request.bookmarks {
                        continue;
                    }
                    // Only the last event taken from the channel is safe to resume from,
                    // because later ones may still wait in it.
                    let mark = request.bookmark(last_sent, false);
                    request.encode("BOOKMARK", &mark, &store)
                }
                received = live.recv() => match received {
                    Ok(event) if event.revision <= last_sent => continue,
                    Ok(event) => {
                        last_sent = event.revision;
                        match request.translate(&event) {
                            Some(kind) => request.encode(kind.as_str(), &event.object, &store),
                            None => continue,
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let error = ApiError::expired("the watch fell behind the event stream; start a new watch");
                        let _ = sender.send(Ok(request.encode("ERROR", &error.to_status(), &store))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
            };
            if sender.send(Ok(line)).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Body::from_stream(receiver))
        .expect("a valid response")
}

fn object_key(request: &WatchRequest, object: &Value) -> Key {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    Key::new(request.resource, namespace, name)
}
