//! Lists with selectors and pagination (`limit` and `continue`).
//!
//! NOTE: a continued list reads the current objects after the last returned name, while the
//! real server reads the snapshot at the first page's resource version. A page can therefore
//! show changes made between pages, though no object is returned twice.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::meta::meta_str;
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::Store;

/// Encodes a `continue` token: the list's resource version and the last returned
/// `namespace/name`.
fn encode_token(revision: u64, last: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"rv": revision, "start": last}).to_string())
}

fn decode_token(token: &str) -> Option<(u64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    Some((value["rv"].as_u64()?, value["start"].as_str()?.to_string()))
}

fn position(object: &Value) -> String {
    format!(
        "{}/{}",
        meta_str(object, "namespace"),
        meta_str(object, "name")
    )
}

/// Lists the objects of `resource` that match both selectors, one page at a time.
///
/// # Errors
///
/// Returns 400 for a malformed `continue` token and 410 Expired for one older than the
/// retained history.
pub(crate) fn list(
    store: &Store,
    resource: &ResourceType,
    namespace: Option<&str>,
    labels: &LabelSelector,
    fields: &FieldSelector,
    limit: Option<usize>,
    continue_token: Option<&str>,
) -> Result<Value, ApiError> {
    let (objects, current) = store.list(resource.plural, namespace);
    let (revision, start) = match continue_token {
        Some(token) => {
            let (revision, start) = decode_token(token).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid continue token {token:?}: pass the metadata.continue value of the previous page"
                ))
            })?;
            if revision < store.history_floor() {
                return Err(ApiError::expired(format!(
                    "the continue token of resource version {revision} has expired; \
                     start the list again without continue"
                )));
            }
            (revision, Some(start))
        }
        None => (current, None),
    };
    let mut matching: Vec<Value> = objects
        .into_iter()
        .filter(|o| start.as_ref().is_none_or(|s| position(o) > *s))
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(limit) = limit.filter(|l| *l < matching.len()) {
        let remaining = matching.len() - limit;
        matching.truncate(limit);
        let last = position(matching.last().expect("limit is at least 1"));
        metadata["continue"] = json!(encode_token(revision, &last));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": matching,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips() {
        let token = encode_token(42, "default/elb-job-1");
        assert_eq!(
            decode_token(&token),
            Some((42, "default/elb-job-1".to_string()))
        );
        assert_eq!(decode_token("not a token"), None);
    }
}
