//! Directory upload and prefix download: many files in one call, with patterns and progress.

pub(crate) mod plan;
