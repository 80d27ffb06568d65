//! Downloads the blobs under a prefix into a local directory, selected by name patterns, as
//! `azcopy cp --recursive --include-pattern` does, with a progress bar.
//!
//! ```sh
//! cargo run -p elb-examples --example download -- CONTAINER/PREFIX LOCAL_DIR \
//!     [--include "*.out.gz;*.out"] [--exclude "logs/*"]
//! ```
//!
//! Patterns are `;`-separated globs matched against the path relative to the prefix. Each
//! file is written to a temporary name and renamed into place once its MD5 is verified.
//!
//! Settings (environment variables): `ELB_STORAGE_URL` and one authorization, as described
//! at the top of `upload.rs`. `SSL_CERT_FILE` adds root certificates.

use std::process::ExitCode;

use elb_core::blob::TreeOptions;
use elb_examples::config::{split_location, storage};
use elb_examples::{Args, ExampleError, ProgressBar, format_bytes, format_duration, run};

const EXAMPLE: &str = "download";

fn main() -> ExitCode {
    run(download())
}

async fn download() -> Result<(), ExampleError> {
    let args = Args::parse(&["include", "exclude"], &[])?;
    let values = args.expect_positional(
        EXAMPLE,
        &[
            ("CONTAINER/PREFIX", "the blobs to download (first argument)"),
            (
                "LOCAL_DIR",
                "the directory to write them to (second argument)",
            ),
        ],
    )?;
    let (container, prefix) = split_location(&values[0])?;
    let local_dir = &values[1];
    let mut options = TreeOptions::default();
    if let Some(include) = args.option("include") {
        options = options.with_include(include)?;
    }
    if let Some(exclude) = args.option("exclude") {
        options = options.with_exclude(exclude)?;
    }
    let settings = storage(EXAMPLE)?;
    let bar = ProgressBar::new(format!("downloading {container}/{prefix}"));
    options.progress = Some(bar.callback());

    let report = settings
        .store
        .download_prefix(&container, &prefix, local_dir, &options)
        .await?
        .ensure_success()?;
    // An empty result is most often a mistyped prefix or job id, so it is an error rather
    // than a download of nothing. Files that exist locally already count as found.
    if report.files == 0 && report.skipped_existing == 0 {
        let message = if report.skipped == 0 {
            format!(
                "no blobs found under {container}/{prefix}: check the container and the \
                 prefix, such as the job id"
            )
        } else {
            format!(
                "none of the {} blobs under {container}/{prefix} matched the --include and \
                 --exclude patterns: check the patterns",
                report.skipped
            )
        };
        return Err(ExampleError::Other(message));
    }
    println!(
        "downloaded {} files, {} to {local_dir} in {}; {} left out by the patterns",
        report.files,
        format_bytes(report.bytes),
        format_duration(report.elapsed),
        report.skipped
    );
    Ok(())
}
