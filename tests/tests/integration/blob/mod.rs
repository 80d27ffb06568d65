//! The transfer engine against Azurite, directly and through the fault proxy.

mod auth;
mod checksums;
mod edge_cases;
mod faults;
mod list;
mod progress;
mod resume;
mod throughput;
mod transfer;
mod tree;
mod zip;
