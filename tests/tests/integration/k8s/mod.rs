//! The job store, search Jobs, cluster information and health against the test API server.

mod cluster;
mod connect;
mod health;
mod markers;
mod openapi;
mod search;
mod search_inline;
mod store;
