//! The integration tests of elb, in one binary so that the suite links once.
//!
//! Each group runs against servers the tests start on 127.0.0.1: Azurite for Blob Storage,
//! and the project's own Entra ID, managed identity and Kubernetes API servers.

mod auth_support;
mod blob_support;
mod blob_tree_support;
mod examples_support;
mod k8s_common;
mod kube_support;

mod auth;
mod blob;
mod examples;
mod k8s;
mod servers;
