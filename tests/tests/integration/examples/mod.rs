//! The examples and the quickstart, run as a user would run them.

mod auth;
mod blob;
mod k8s;
mod quickstart;
