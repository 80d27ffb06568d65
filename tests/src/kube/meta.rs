//! Object metadata helpers: keys, timestamps, uids, generated names and field access.

use rand::Rng;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::format_description;

use super::resources::ResourceType;

/// The identity of a stored object: its resource plural, namespace (empty for cluster-scoped
/// kinds) and name. Keys sort by resource, then namespace, then name, which is list order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The resource plural, such as `jobs`.
    pub plural: &'static str,
    /// The namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// The object name.
    pub name: String,
}

impl Key {
    /// Builds the key of `name` in `namespace` for `resource`, ignoring the namespace of a
    /// cluster-scoped kind.
    pub fn new(resource: &ResourceType, namespace: &str, name: &str) -> Self {
        let namespace = if resource.namespaced { namespace } else { "" };
        Self {
            plural: resource.plural,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// Formats `at` as the API server does, RFC 3339 in UTC with whole seconds.
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("a UTC time formats")
}

/// Parses a timestamp written by [`timestamp`] or any RFC 3339 time.
pub(crate) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Returns a random version 4 UUID in its hyphenated lowercase form.
pub(crate) fn new_uid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Returns five random characters from the alphabet the API server uses for `generateName`
/// suffixes, which leaves out vowels and look-alike digits.
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Returns the `metadata` object of `object`, creating it when missing or not an object.
pub(crate) fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = Value::Object(Map::new());
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

/// Returns a string field of `metadata`, or the empty string.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object["metadata"][field].as_str().unwrap_or_default()
}

/// Returns a copy of `object` without `metadata` and `status`, the part whose changes bump
/// `metadata.generation`.
pub(crate) fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_version_4() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn timestamp_round_trips() {
        let at = time::macros::datetime!(2026-01-02 03:04:05.678 UTC);
        assert_eq!(timestamp(at), "2026-01-02T03:04:05Z");
        let parsed = parse_timestamp("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(parsed.unix_timestamp(), at.unix_timestamp());
    }

    #[test]
    fn suffix_uses_the_alphabet() {
        let suffix = random_suffix();
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
    }
}
