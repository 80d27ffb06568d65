//! Sources of a search's terminal markers.

use async_trait::async_trait;

use crate::Result;
use crate::k8s::search::status::Markers;

/// A source of a search's terminal markers, normally blob storage.
///
/// `results_prefix` is the search's results location
/// (`results/[YYYY/MM/DD/]<job_id>/<elb_job_id>/`). An implementation looks for
/// `metadata/SUCCESS.txt` and `metadata/FAILURE.txt` under it, and for at least one
/// result blob.
#[async_trait]
pub trait MarkerSource: Send + Sync {
    /// Looks up the markers under `results_prefix`.
    ///
    /// # Errors
    ///
    /// Returns the storage error; a missing marker is not an error.
    async fn markers(&self, results_prefix: &str) -> Result<Markers>;
}

/// A marker source that always returns the same markers, for callers without storage
/// access (every search then stays running until its Jobs fail).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixedMarkers(pub Markers);

#[async_trait]
impl MarkerSource for FixedMarkers {
    async fn markers(&self, _results_prefix: &str) -> Result<Markers> {
        Ok(self.0)
    }
}
