//! Decoding of the few protobuf request bodies `kubectl` sends.
//!
//! kubectl's built-in generators (`kubectl create configmap`, `create namespace`, `create
//! serviceaccount`) send `application/vnd.kubernetes.protobuf` bodies, and client-go does not
//! fall back to JSON for built-in kinds. A body is the magic `k8s\0` followed by a
//! `runtime.Unknown` message: field 1 is the `TypeMeta` (1 `apiVersion`, 2 `kind`) and field 2
//! the object's own message, whose field 1 is always the `ObjectMeta`.
//!
//! NOTE: only ConfigMaps (metadata, `data`, `binaryData`, `immutable`) and the metadata of
//! Namespaces and ServiceAccounts are decoded. Other kinds get 415, so clients must send them
//! as JSON (for example with `kubectl create -f file.yaml`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// The content type of Kubernetes protobuf bodies.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// One field of a protobuf message: a varint or a length-delimited byte string.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(data: &[u8], position: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*position).ok_or("truncated protobuf varint")?;
        *position += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("protobuf varint longer than 10 bytes".into())
}

/// Splits a message into its fields, in order.
fn fields(data: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut position = 0;
    let mut out = Vec::new();
    while position < data.len() {
        let tag = varint(data, &mut position)?;
        let field = match tag & 7 {
            0 => Field::Varint(varint(data, &mut position)?),
            2 => {
                let length = usize::try_from(varint(data, &mut position)?)
                    .map_err(|_| "protobuf length out of range")?;
                let end = position
                    .checked_add(length)
                    .filter(|end| *end <= data.len())
                    .ok_or("truncated protobuf field")?;
                let bytes = &data[position..end];
                position = end;
                Field::Bytes(bytes)
            }
            1 => {
                position += 8;
                continue;
            }
            5 => {
                position += 4;
                continue;
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        };
        out.push((tag >> 3, field));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "protobuf string is not UTF-8".to_string())
}

/// Decodes a map entry (field 1 key, field 2 value).
fn map_entry(bytes: &[u8]) -> Result<(String, &[u8]), String> {
    let mut key = String::new();
    let mut value: &[u8] = &[];
    for (number, field) in fields(bytes)? {
        match (number, field) {
            (1, Field::Bytes(b)) => key = text(b)?,
            (2, Field::Bytes(b)) => value = b,
            _ => {}
        }
    }
    Ok((key, value))
}

fn insert_text_entry(map: &mut Value, bytes: &[u8]) -> Result<(), String> {
    let (key, value) = map_entry(bytes)?;
    if !map.is_object() {
        *map = json!({});
    }
    map[key] = json!(text(value)?);
    Ok(())
}

/// Decodes the `ObjectMeta` fields a create request carries.
fn object_meta(bytes: &[u8]) -> Result<Value, String> {
    let mut metadata = json!({});
    for (number, field) in fields(bytes)? {
        let Field::Bytes(b) = field else { continue };
        if b.is_empty() {
            continue;
        }
        match number {
            1 => metadata["name"] = json!(text(b)?),
            2 => metadata["generateName"] = json!(text(b)?),
            3 => metadata["namespace"] = json!(text(b)?),
            11 => insert_text_entry(&mut metadata["labels"], b)?,
            12 => insert_text_entry(&mut metadata["annotations"], b)?,
            _ => {}
        }
    }
    Ok(metadata)
}

/// Decodes a protobuf request body into the JSON object it encodes.
///
/// # Errors
///
/// Returns a message when the body is malformed or its kind is not one this module decodes.
pub(crate) fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("the protobuf body does not start with the k8s magic bytes")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (number, field) in fields(envelope)? {
        match (number, field) {
            (1, Field::Bytes(type_meta)) => {
                for (n, f) in fields(type_meta)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => api_version = text(b)?,
                        (2, Field::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if !matches!(kind.as_str(), "ConfigMap" | "Namespace" | "ServiceAccount") {
        return Err(format!(
            "protobuf bodies of kind {kind:?} are not supported by this test server: send JSON"
        ));
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    let mut value = Value::Object(object);
    for (number, field) in fields(raw)? {
        match (kind.as_str(), number, field) {
            (_, 1, Field::Bytes(b)) => value["metadata"] = object_meta(b)?,
            ("ConfigMap", 2, Field::Bytes(b)) => insert_text_entry(&mut value["data"], b)?,
            ("ConfigMap", 3, Field::Bytes(b)) => {
                let (key, bytes) = map_entry(b)?;
                if !value["binaryData"].is_object() {
                    value["binaryData"] = json!({});
                }
                value["binaryData"][key] = json!(STANDARD.encode(bytes));
            }
            ("ConfigMap", 4, Field::Varint(flag)) => value["immutable"] = json!(flag != 0),
            _ => {}
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2, u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    fn entry(key: &str, value: &str) -> Vec<u8> {
        [
            bytes_field(1, key.as_bytes()),
            bytes_field(2, value.as_bytes()),
        ]
        .concat()
    }

    #[test]
    fn decodes_a_config_map() {
        let metadata = [
            bytes_field(1, b"demo"),
            bytes_field(11, &entry("app", "elb")),
        ]
        .concat();
        let config_map = [
            bytes_field(1, &metadata),
            bytes_field(2, &entry("a", "b")),
            vec![4 << 3, 1],
        ]
        .concat();
        let type_meta = [bytes_field(1, b"v1"), bytes_field(2, b"ConfigMap")].concat();
        let body = [
            MAGIC.to_vec(),
            bytes_field(1, &type_meta),
            bytes_field(2, &config_map),
        ]
        .concat();
        let value = decode(&body).unwrap();
        assert_eq!(value["kind"], "ConfigMap");
        assert_eq!(value["metadata"]["name"], "demo");
        assert_eq!(value["metadata"]["labels"]["app"], "elb");
        assert_eq!(value["data"]["a"], "b");
        assert_eq!(value["immutable"], true);
    }

    #[test]
    fn rejects_other_kinds_and_garbage() {
        let type_meta = [bytes_field(1, b"batch/v1"), bytes_field(2, b"Job")].concat();
        let body = [MAGIC.to_vec(), bytes_field(1, &type_meta)].concat();
        assert!(decode(&body).unwrap_err().contains("\"Job\""));
        assert!(decode(b"{}").is_err());
        assert!(decode(b"k8s\0\x0a\x05ab").is_err());
    }
}
