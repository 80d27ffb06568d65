//! Shared state of a running token service: configuration, counters, injected faults and a
//! log of token requests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::entra::config::EntraConfig;
use crate::entra::exchange::ClientAuthMethod;

/// One token request as the service received it, without secrets.
#[derive(Clone, Debug)]
pub struct TokenRequestRecord {
    /// Tenant from the URL path.
    pub tenant: String,
    /// The `client_id` form field, when present.
    pub client_id: Option<String>,
    /// The `scope` form field, when present.
    pub scope: Option<String>,
    /// Credential kind the request carried, when it carried one.
    pub method: Option<ClientAuthMethod>,
    /// Claims of the `client_assertion`, when it was a readable JWT.
    pub assertion_claims: Option<Map<String, Value>>,
    /// HTTP status of the response; 0 until the response is sent.
    pub status: u16,
}

#[derive(Default)]
pub(crate) struct Controls {
    pub(crate) total: usize,
    pub(crate) per_client: HashMap<String, usize>,
    pub(crate) faults: VecDeque<u16>,
    pub(crate) delay: Duration,
    pub(crate) records: Vec<TokenRequestRecord>,
    pub(crate) tokens_issued: usize,
}

pub(crate) struct EntraState {
    pub(crate) config: Mutex<EntraConfig>,
    pub(crate) controls: Mutex<Controls>,
    pub(crate) authority_host: OnceLock<String>,
}

/// Locks `mutex`, recovering the data if a panicking test thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EntraState {
    pub(crate) fn new(config: EntraConfig) -> Self {
        Self {
            config: Mutex::new(config),
            controls: Mutex::new(Controls::default()),
            authority_host: OnceLock::new(),
        }
    }

    pub(crate) fn authority_host(&self) -> &str {
        self.authority_host
            .get()
            .map(String::as_str)
            .unwrap_or("https://127.0.0.1/")
    }

    /// Counts and logs a request. Returns its log index, the delay to apply and the pending
    /// injected fault status, if any.
    pub(crate) fn begin_request(
        &self,
        record: TokenRequestRecord,
    ) -> (usize, Duration, Option<u16>) {
        let mut controls = lock(&self.controls);
        controls.total += 1;
        if let Some(client_id) = &record.client_id {
            *controls.per_client.entry(client_id.clone()).or_default() += 1;
        }
        controls.records.push(record);
        let index = controls.records.len() - 1;
        let fault = controls.faults.pop_front();
        (index, controls.delay, fault)
    }

    pub(crate) fn finish_request(&self, index: usize, status: u16) {
        let mut controls = lock(&self.controls);
        if status == 200 {
            controls.tokens_issued += 1;
        }
        if let Some(record) = controls.records.get_mut(index) {
            record.status = status;
        }
    }
}
