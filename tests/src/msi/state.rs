//! Shared state of a running managed identity service: configuration, counters, injected
//! faults and a log of token requests.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::msi::config::ManagedIdentityConfig;

/// The two endpoint shapes the service serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// The Instance Metadata Service, `GET /metadata/identity/oauth2/token`, api-version
    /// 2018-02-01.
    Imds,
    /// The App Service and Functions endpoint (`IDENTITY_ENDPOINT`), api-version 2019-08-01.
    AppService,
}

/// One token request as the service received it.
#[derive(Clone, Debug)]
pub struct MsiRequestRecord {
    /// Endpoint shape the request went to.
    pub kind: EndpointKind,
    /// Query parameters in request order.
    pub query: Vec<(String, String)>,
    /// HTTP status of the response; 0 until the response is sent.
    pub status: u16,
}

#[derive(Default)]
pub(crate) struct MsiControls {
    pub(crate) imds_requests: usize,
    pub(crate) app_service_requests: usize,
    pub(crate) tokens_issued: usize,
    pub(crate) faults: VecDeque<u16>,
    pub(crate) gone_until: Option<Instant>,
    pub(crate) delay: Duration,
    pub(crate) records: Vec<MsiRequestRecord>,
}

/// Locks `mutex`, recovering the data if a panicking test thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) struct MsiState {
    pub(crate) config: Mutex<ManagedIdentityConfig>,
    pub(crate) controls: Mutex<MsiControls>,
}

impl MsiState {
    pub(crate) fn new(config: ManagedIdentityConfig) -> Self {
        Self {
            config: Mutex::new(config),
            controls: Mutex::new(MsiControls::default()),
        }
    }

    /// Counts and logs a request. Returns its log index, the delay to apply and the status
    /// of an injected fault: a queued one first, else 410 while the start-up window lasts.
    pub(crate) fn begin_request(
        &self,
        kind: EndpointKind,
        query: Vec<(String, String)>,
    ) -> (usize, Duration, Option<u16>) {
        let mut controls = lock(&self.controls);
        match kind {
            EndpointKind::Imds => controls.imds_requests += 1,
            EndpointKind::AppService => controls.app_service_requests += 1,
        }
        controls.records.push(MsiRequestRecord {
            kind,
            query,
            status: 0,
        });
        let index = controls.records.len() - 1;
        let queued = controls.faults.pop_front();
        let starting = controls
            .gone_until
            .is_some_and(|until| Instant::now() < until)
            .then_some(410);
        (index, controls.delay, queued.or(starting))
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
