//! The object store: objects as JSON under a global resource version counter, with a bounded
//! history of watch events.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::broadcast;

use super::meta::{Key, meta_str, metadata_mut, timestamp};
use super::prepare::{prepare_change, prepare_new};
use super::resources::{self, ResourceType};
use super::status::ApiError;

/// The number of events kept for watches that resume from a resource version.
pub const DEFAULT_HISTORY_CAPACITY: usize = 1000;

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// An object was created.
    Added,
    /// An object was changed.
    Modified,
    /// An object was deleted.
    Deleted,
}

impl EventType {
    /// Returns the wire name, such as `ADDED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change to one object, as recorded in the history and sent to watches.
#[derive(Clone, Debug)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The object's key.
    pub key: Key,
    /// The resource version of the change.
    pub revision: u64,
    /// The object after the change, or its last state for a deletion.
    pub object: Value,
    /// The object before a modification.
    pub previous: Option<Value>,
}

/// Which part of an object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The main resource: everything except `status` for kinds with a status subresource.
    Main,
    /// The `/status` subresource: only `status`.
    Status,
}

struct State {
    objects: BTreeMap<Key, Value>,
    applied: BTreeMap<Key, BTreeMap<String, Value>>,
    revision: u64,
    history: VecDeque<Event>,
    /// Watches and `continue` tokens from before this revision get 410 Expired.
    history_floor: u64,
    history_capacity: usize,
}

/// The object store shared by the request handlers and the job controller.
pub struct Store {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    disconnects: tokio::sync::watch::Sender<u64>,
    clock_offset_secs: AtomicI64,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// Creates an empty store.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        let (disconnects, _) = tokio::sync::watch::channel(0);
        Self {
            state: Mutex::new(State {
                objects: BTreeMap::new(),
                applied: BTreeMap::new(),
                revision: 1,
                history: VecDeque::new(),
                history_floor: 1,
                history_capacity: DEFAULT_HISTORY_CAPACITY,
            }),
            events,
            disconnects,
            clock_offset_secs: AtomicI64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the current time of the server's clock, which tests may move forward.
    pub fn now(&self) -> OffsetDateTime {
        let offset = self.clock_offset_secs.load(Ordering::Relaxed);
        OffsetDateTime::now_utc() + time::Duration::seconds(offset)
    }

    /// Moves the server's clock forward by `seconds`.
    pub fn advance_clock(&self, seconds: i64) {
        self.clock_offset_secs.fetch_add(seconds, Ordering::Relaxed);
    }

    /// Returns the latest resource version.
    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    /// Returns the oldest resource version a watch or `continue` token may start from.
    pub fn history_floor(&self) -> u64 {
        self.lock().history_floor
    }

    /// Drops the event history, so that watches from an earlier resource version and older
    /// `continue` tokens get 410 Expired, as after an etcd compaction.
    pub fn compact_history(&self) {
        let mut state = self.lock();
        state.history.clear();
        state.history_floor = state.revision;
    }

    /// Sets how many events the history keeps.
    pub fn set_history_capacity(&self, capacity: usize) {
        let mut state = self.lock();
        state.history_capacity = capacity.max(1);
        while state.history.len() > state.history_capacity {
            if let Some(event) = state.history.pop_front() {
                state.history_floor = event.revision;
            }
        }
    }

    /// Returns the object at `key`.
    pub fn get(&self, key: &Key) -> Option<Value> {
        self.lock().objects.get(key).cloned()
    }

    /// Returns the objects of `plural` in `namespace` (every namespace when `None`), in key
    /// order, with the resource version of the snapshot.
    pub fn list(&self, plural: &str, namespace: Option<&str>) -> (Vec<Value>, u64) {
        let state = self.lock();
        let items = state
            .objects
            .iter()
            .filter(|(k, _)| k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.revision)
    }

    /// Returns the recorded events after `revision` and a receiver for later ones.
    ///
    /// # Errors
    ///
    /// Returns 410 Expired when `revision` is older than the retained history.
    pub fn watch_from(
        &self,
        revision: u64,
    ) -> Result<(Vec<Event>, broadcast::Receiver<Event>), ApiError> {
        let state = self.lock();
        if revision < state.history_floor {
            return Err(ApiError::expired(format!(
                "too old resource version: {revision} ({})",
                state.history_floor
            )));
        }
        let backlog = state
            .history
            .iter()
            .filter(|e| e.revision > revision)
            .cloned()
            .collect();
        Ok((backlog, self.events.subscribe()))
    }

    /// Ends every open watch stream, as an API server restart does; clients then watch
    /// again from their last resource version.
    pub fn disconnect_watches(&self) {
        self.disconnects.send_modify(|count| *count += 1);
    }

    /// Returns a receiver that changes when [`disconnect_watches`](Self::disconnect_watches)
    /// is called.
    pub fn disconnect_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.disconnects.subscribe()
    }

    /// Returns a receiver of every later event.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Returns the configurations each field manager last applied to the object at `key`.
    pub fn applied(&self, key: &Key) -> BTreeMap<String, Value> {
        self.lock().applied.get(key).cloned().unwrap_or_default()
    }

    /// Creates `object` in `namespace` after filling in server-set metadata and validating it.
    ///
    /// # Errors
    ///
    /// Returns 404 when the namespace does not exist, 409 AlreadyExists when the name is
    /// taken and 422 Invalid when validation fails.
    pub fn create(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        object: Value,
    ) -> Result<Value, ApiError> {
        let now = timestamp(self.now());
        let mut state = self.lock();
        check_namespace(&state, resource, namespace)?;
        let object = prepare_new(resource, namespace, object, &now, state.revision + 1)?;
        let name = meta_str(&object, "name").to_string();
        let key = Key::new(resource, namespace, &name);
        if state.objects.contains_key(&key) {
            return Err(ApiError::already_exists(resource, &name));
        }
        Ok(self.commit(&mut state, key, Some(object), EventType::Added))
    }

    /// Changes the object at `key` with `change`, which receives the stored object and returns
    /// the new one, all under the store lock.
    ///
    /// The identity fields are kept, `part` decides whether `status` or the rest may change,
    /// a `metadata.resourceVersion` in the result must equal the stored one, and a result
    /// equal to the stored object writes nothing and keeps the resource version.
    ///
    /// # Errors
    ///
    /// Returns 404 when the object does not exist, 409 Conflict on a stale resource version,
    /// 422 Invalid when validation fails, and any error `change` returns.
    pub fn modify(
        &self,
        resource: &'static ResourceType,
        key: &Key,
        part: Part,
        change: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let current = state
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(resource, &key.name))?;
        let next = change(&current)?;
        match prepare_change(resource, key, part, &current, next)? {
            Some(next) => Ok(self.commit(&mut state, key.clone(), Some(next), EventType::Modified)),
            None => Ok(current),
        }
    }

    /// Records `configuration` as what `manager` last applied to the object at `key`.
    pub fn set_applied(&self, key: &Key, manager: &str, configuration: Value) {
        let mut state = self.lock();
        state
            .applied
            .entry(key.clone())
            .or_default()
            .insert(manager.to_string(), configuration);
    }

    /// Removes the object at `key` and returns its last state, or `None` when it is absent.
    pub fn remove(&self, key: &Key) -> Option<Value> {
        let mut state = self.lock();
        if !state.objects.contains_key(key) {
            return None;
        }
        Some(self.commit(&mut state, key.clone(), None, EventType::Deleted))
    }

    /// Returns the keys of objects whose `ownerReferences` name `owner_uid`.
    pub fn dependents(&self, owner_uid: &str) -> Vec<Key> {
        let state = self.lock();
        state
            .objects
            .iter()
            .filter(|(_, object)| {
                object["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid))
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Returns the keys of every object in `namespace`.
    pub fn keys_in_namespace(&self, namespace: &str) -> Vec<Key> {
        let state = self.lock();
        state
            .objects
            .keys()
            .filter(|k| k.namespace == namespace)
            .cloned()
            .collect()
    }

    /// Writes (or with `None` removes) the object at `key` under a new resource version and
    /// records the event.
    fn commit(&self, state: &mut State, key: Key, object: Option<Value>, kind: EventType) -> Value {
        state.revision += 1;
        let revision = state.revision;
        let (object, previous) = match object {
            Some(mut object) => {
                metadata_mut(&mut object)
                    .insert("resourceVersion".into(), json!(revision.to_string()));
                let previous = state.objects.insert(key.clone(), object.clone());
                (object, previous)
            }
            None => {
                state.applied.remove(&key);
                let mut last = state.objects.remove(&key).unwrap_or(Value::Null);
                metadata_mut(&mut last)
                    .insert("resourceVersion".into(), json!(revision.to_string()));
                (last, None)
            }
        };
        let event = Event {
            kind,
            key,
            revision,
            object: object.clone(),
            previous,
        };
        state.history.push_back(event.clone());
        while state.history.len() > state.history_capacity {
            if let Some(dropped) = state.history.pop_front() {
                state.history_floor = dropped.revision;
            }
        }
        // Sending fails only when no watch is listening, which is fine.
        let _ = self.events.send(event);
        object
    }
}

fn check_namespace(
    state: &State,
    resource: &ResourceType,
    namespace: &str,
) -> Result<(), ApiError> {
    if !resource.namespaced {
        return Ok(());
    }
    let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
    if state
        .objects
        .contains_key(&Key::new(namespaces, "", namespace))
    {
        Ok(())
    } else {
        Err(ApiError::not_found(namespaces, namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Store, &'static ResourceType) {
        let store = Store::new();
        let namespaces = resources::find("", "v1", "namespaces").unwrap();
        store
            .create(namespaces, "", json!({"metadata": {"name": "default"}}))
            .unwrap();
        (store, resources::find("", "v1", "configmaps").unwrap())
    }

    #[test]
    fn create_sets_server_metadata() {
        let (store, configmaps) = setup();
        let created = store
            .create(
                configmaps,
                "default",
                json!({"metadata": {"generateName": "elb-"}}),
            )
            .unwrap();
        let name = meta_str(&created, "name");
        assert!(name.starts_with("elb-"), "{name}");
        assert_eq!(name.len(), 9, "{name}");
        assert_eq!(meta_str(&created, "namespace"), "default");
        assert_eq!(meta_str(&created, "resourceVersion"), "3");
        assert_eq!(created["metadata"]["generation"], 1);
        assert_eq!(created["kind"], "ConfigMap");
    }

    #[test]
    fn stale_resource_version_conflicts() {
        let (store, configmaps) = setup();
        let created = store
            .create(
                configmaps,
                "default",
                json!({"metadata": {"name": "a"}, "data": {"k": "1"}}),
            )
            .unwrap();
        let key = Key::new(configmaps, "default", "a");
        let mut first = created.clone();
        first["data"]["k"] = json!("2");
        store
            .modify(configmaps, &key, Part::Main, |_| Ok(first))
            .unwrap();
        let mut second = created;
        second["data"]["k"] = json!("3");
        let error = store
            .modify(configmaps, &key, Part::Main, |_| Ok(second))
            .unwrap_err();
        assert_eq!(error.code, 409);
        assert_eq!(error.reason, "Conflict");
    }

    #[test]
    fn unchanged_write_keeps_revision() {
        let (store, configmaps) = setup();
        let created = store
            .create(configmaps, "default", json!({"metadata": {"name": "a"}}))
            .unwrap();
        let key = Key::new(configmaps, "default", "a");
        let same = store
            .modify(configmaps, &key, Part::Main, |c| Ok(c.clone()))
            .unwrap();
        assert_eq!(
            same["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
    }

    #[test]
    fn compaction_expires_old_watches() {
        let (store, configmaps) = setup();
        store
            .create(configmaps, "default", json!({"metadata": {"name": "a"}}))
            .unwrap();
        assert_eq!(store.watch_from(1).unwrap().0.len(), 2);
        store.compact_history();
        let error = store.watch_from(1).err().unwrap();
        assert_eq!(error.code, 410);
        assert!(store.watch_from(store.revision()).is_ok());
    }

    #[test]
    fn missing_namespace_is_not_found() {
        let (store, configmaps) = setup();
        let error = store
            .create(configmaps, "nowhere", json!({"metadata": {"name": "a"}}))
            .unwrap_err();
        assert_eq!(error.code, 404);
        assert_eq!(error.message, "namespaces \"nowhere\" not found");
    }
}
