//! Environment variable sources, injectable so that tests never change the process
//! environment.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A source of environment variables.
pub trait EnvSource: Send + Sync {
    /// Returns the value of `name`, or `None` when it is unset or not valid Unicode.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of variables, for tests and for callers that build configuration themselves.
#[derive(Clone, Default)]
pub struct MapEnv {
    vars: HashMap<String, String>,
}

impl MapEnv {
    /// Creates an empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a variable.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MapEnv {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

// Values may be secrets (AZURE_CLIENT_SECRET), so only names are printed.
impl fmt::Debug for MapEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("MapEnv").field("names", &names).finish()
    }
}

/// A shared environment source.
pub type SharedEnv = Arc<dyn EnvSource>;

/// Returns the process environment as a shared source.
pub fn process_env() -> SharedEnv {
    Arc::new(ProcessEnv)
}

/// Returns the value of `name` when it is set and not blank.
pub fn non_empty(env: &dyn EnvSource, name: &str) -> Option<String> {
    env.var(name).filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_env_debug_hides_values() {
        let env = MapEnv::new().with("AZURE_CLIENT_SECRET", "s3cr3t-value");
        let printed = format!("{env:?}");
        assert!(printed.contains("AZURE_CLIENT_SECRET"));
        assert!(!printed.contains("s3cr3t-value"));
    }

    #[test]
    fn blank_values_count_as_unset() {
        let env = MapEnv::new().with("AZURE_CLIENT_ID", "  ");
        assert_eq!(non_empty(&env, "AZURE_CLIENT_ID"), None);
        assert_eq!(non_empty(&env, "AZURE_TENANT_ID"), None);
    }
}
