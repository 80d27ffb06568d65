//! Credentials and the default chain against the test token and managed identity services.

mod chain;
mod cli;
mod managed;
mod secret;
mod workload;
mod workload_azurite;
