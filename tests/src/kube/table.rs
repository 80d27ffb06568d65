//! The `Table` form of objects (`meta.k8s.io/v1`), which `kubectl get` requests for its
//! human-readable output.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::meta::parse_timestamp;

/// Returns whether an `Accept` header requests the `Table` form.
pub(crate) fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// Formats the age of an object the way `kubectl` does, such as `42s`, `5m`, `3h` or `2d`.
fn age(created: &str, now: OffsetDateTime) -> String {
    let Some(created) = parse_timestamp(created) else {
        return "<unknown>".into();
    };
    let seconds = (now - created).whole_seconds().max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Builds a `Table` with one row (name and age) for each object.
pub(crate) fn table(objects: &[Value], resource_version: &str, now: OffsetDateTime) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let metadata = &object["metadata"];
            let created = metadata["creationTimestamp"].as_str().unwrap_or_default();
            json!({
                "cells": [metadata["name"], age(created, now)],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "", "priority": 0},
        ],
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_accept_header() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }

    #[test]
    fn ages_use_the_largest_unit() {
        let now = parse_timestamp("2026-01-03T00:00:00Z").unwrap();
        assert_eq!(age("2026-01-02T23:59:18Z", now), "42s");
        assert_eq!(age("2026-01-02T23:00:00Z", now), "60m");
        assert_eq!(age("2026-01-02T00:00:00Z", now), "24h");
        assert_eq!(age("2026-01-01T00:00:00Z", now), "2d");
    }
}
