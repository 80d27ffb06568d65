//! The throughput harness: elb against azcopy, the Python SDK and curl.
//!
//! `elb-benches run` generates the workloads, runs every contender against Azurite and the
//! in-memory endpoint inside a loopback-only network namespace, checks every output by MD5,
//! and writes BENCHMARKS.md, `results.json` and a PNG chart. `scripts/bench` is the usual
//! way to start it. The `measure` and `contender` subcommands are what the harness runs in
//! its child processes.

pub mod cli;
pub mod contenders;
pub mod endpoint;
pub mod environment;
pub mod measure;
pub mod netns;
pub mod page;
pub mod report;
pub mod runner;
pub mod targets;
pub mod verify;
pub mod workloads;
