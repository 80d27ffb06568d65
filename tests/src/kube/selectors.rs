//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`) and field selectors
//! (`path=value`, `path!=value`) as the API server parses them from query parameters.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Splits `text` at commas that are outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_set(key: &str, rest: &str, selector: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement for key {key:?} in label selector {selector:?}: expected a parenthesized set of values")
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn check_key(key: &str, selector: &str) -> Result<(), String> {
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!(
            "invalid label key {key:?} in label selector {selector:?}"
        ));
    }
    Ok(())
}

impl LabelSelector {
    /// Parses a selector such as `app=blast,shard in (00,01),!paused`.
    ///
    /// # Errors
    ///
    /// Returns a message naming the selector when a requirement cannot be parsed.
    pub fn parse(selector: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(selector) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(Self::parse_requirement(part, selector)?);
        }
        Ok(Self { requirements })
    }

    fn parse_requirement(part: &str, selector: &str) -> Result<Requirement, String> {
        if let Some(key) = part.strip_prefix('!') {
            let key = key.trim();
            check_key(key, selector)?;
            return Ok(Requirement::DoesNotExist(key.to_string()));
        }
        if let Some((key, value)) = part.split_once("!=") {
            let key = key.trim();
            check_key(key, selector)?;
            return Ok(Requirement::NotEquals(key.into(), value.trim().into()));
        }
        if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
            let key = key.trim();
            check_key(key, selector)?;
            return Ok(Requirement::Equals(key.into(), value.trim().into()));
        }
        let mut words = part.splitn(2, char::is_whitespace);
        let key = words.next().unwrap_or_default().trim();
        let rest = words.next().unwrap_or_default().trim_start();
        check_key(key, selector)?;
        if rest.is_empty() {
            return Ok(Requirement::Exists(key.to_string()));
        }
        if let Some(values) = rest.strip_prefix("notin") {
            return Ok(Requirement::NotIn(
                key.into(),
                parse_set(key, values, selector)?,
            ));
        }
        if let Some(values) = rest.strip_prefix("in") {
            return Ok(Requirement::In(
                key.into(),
                parse_set(key, values, selector)?,
            ));
        }
        Err(format!(
            "unable to parse requirement {part:?} in label selector {selector:?}: \
             expected an operator (=, ==, !=, in, notin)"
        ))
    }

    /// Returns whether the `metadata.labels` of `object` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let label = |key: &str| labels.get(key).and_then(Value::as_str);
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
                Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
                Requirement::In(k, values) => {
                    label(k).is_some_and(|l| values.iter().any(|v| v == l))
                }
                Requirement::NotIn(k, values) => {
                    !label(k).is_some_and(|l| values.iter().any(|v| v == l))
                }
                Requirement::Exists(k) => label(k).is_some(),
                Requirement::DoesNotExist(k) => label(k).is_none(),
            })
    }
}

/// A parsed field selector over dotted paths such as `metadata.name` or `status.phase`.
///
/// NOTE: the real API server accepts only a few fields per kind and rejects the others with
/// 400. This selector accepts any dotted path of the object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses a selector such as `metadata.name=blast-1,status.phase!=Running`.
    ///
    /// # Errors
    ///
    /// Returns a message naming the selector when a term has no `=`, `==` or `!=`.
    pub fn parse(selector: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, equal, value) = if let Some((p, v)) = term.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (p, true, v)
            } else {
                return Err(format!(
                    "invalid field selector {selector:?}: term {term:?} has no operator (=, ==, !=)"
                ));
            };
            requirements.push((path.trim().to_string(), equal, value.trim().to_string()));
        }
        Ok(Self { requirements })
    }

    /// Returns whether the fields of `object` satisfy every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|(path, equal, value)| {
            let mut field = object;
            for segment in path.split('.') {
                field = &field[segment];
            }
            let actual = match field {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn equality_and_inequality() {
        let o = object(json!({"app": "blast", "db": "nt"}));
        assert!(LabelSelector::parse("app=blast").unwrap().matches(&o));
        assert!(
            LabelSelector::parse("app==blast,db=nt")
                .unwrap()
                .matches(&o)
        );
        assert!(!LabelSelector::parse("app!=blast").unwrap().matches(&o));
        assert!(LabelSelector::parse("app!=setup").unwrap().matches(&o));
        assert!(LabelSelector::parse("missing!=x").unwrap().matches(&o));
    }

    #[test]
    fn set_requirements() {
        let o = object(json!({"shard": "01"}));
        assert!(
            LabelSelector::parse("shard in (00, 01)")
                .unwrap()
                .matches(&o)
        );
        assert!(
            !LabelSelector::parse("shard notin (00,01)")
                .unwrap()
                .matches(&o)
        );
        assert!(
            LabelSelector::parse("other notin (00)")
                .unwrap()
                .matches(&o)
        );
        assert!(!LabelSelector::parse("other in (00)").unwrap().matches(&o));
        assert!(
            LabelSelector::parse("shard in (01),shard")
                .unwrap()
                .matches(&o)
        );
    }

    #[test]
    fn existence_requirements() {
        let o = object(json!({"elb-job": "true"}));
        assert!(LabelSelector::parse("elb-job").unwrap().matches(&o));
        assert!(!LabelSelector::parse("!elb-job").unwrap().matches(&o));
        assert!(LabelSelector::parse("!paused").unwrap().matches(&o));
        assert!(LabelSelector::parse("").unwrap().matches(&o));
    }

    #[test]
    fn malformed_selector_is_rejected() {
        let error = LabelSelector::parse("app between (a)").unwrap_err();
        assert!(error.contains("app between (a)"), "{error}");
        assert!(LabelSelector::parse("app in a,b").is_err());
    }

    #[test]
    fn field_selector_reads_dotted_paths() {
        let o = object(json!({}));
        assert!(FieldSelector::parse("metadata.name=x").unwrap().matches(&o));
        assert!(
            !FieldSelector::parse("metadata.name!=x")
                .unwrap()
                .matches(&o)
        );
        assert!(
            FieldSelector::parse("status.phase==Running")
                .unwrap()
                .matches(&o)
        );
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
