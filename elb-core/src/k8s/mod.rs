//! Kubernetes: the job store, a search's Jobs and cluster objects.
