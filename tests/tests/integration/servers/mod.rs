//! The test servers themselves: Azurite's launcher, Entra ID, managed identity, the fault
//! proxy and the Kubernetes API server.

mod azurite;
mod entra;
mod fault;
mod kube_client;
mod kube_crud;
mod kube_delete;
mod kube_jobs;
mod kube_kubectl;
mod kube_list;
mod kube_patch;
mod kube_watch;
mod msi;
mod serve_tls;
