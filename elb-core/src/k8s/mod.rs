//! Kubernetes: the job store, a search's Jobs and cluster objects.
//!
//! Every operation takes an explicit namespace: nothing falls back to `default`.
//!
//! - [`connect_in_cluster`], [`connect_kubeconfig`], [`connect_entra`]: a kube [`kube::Client`].
//! - [`store`]: job records in ConfigMaps.
//! - [`search`]: a search's Jobs, status, wait and delete.
//! - [`cluster`]: nodes, pod phases and `/readyz`.
//! - [`openapi_objects`]: the OpenAPI service's objects, applied server-side.

pub(crate) mod api_error;
mod bearer;
pub mod cluster;
mod connect;
pub mod names;
pub mod openapi_objects;
pub mod search;
pub mod store;

pub use connect::{
    InClusterPaths, KubeconfigSource, connect_entra, connect_in_cluster, connect_kubeconfig,
};
