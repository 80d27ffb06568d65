//! Streams a search's results as one ZIP file, without staging the blobs on disk.
//!
//! ```sh
//! cargo run -p elb-examples --example zip_results -- \
//!     results/JOB_ID/ELB_JOB_ID results.zip [--include "*.out.gz"] [--deflate]
//! ```
//!
//! Entries are the blobs under the prefix, named by their path relative to it, each checked
//! against its stored MD5. `--deflate` compresses entries that are not compressed already.
//!
//! Settings (environment variables): `ELB_STORAGE_URL` and one authorization, as described
//! at the top of `upload.rs`. `SSL_CERT_FILE` adds root certificates.

use std::process::ExitCode;

use elb_core::blob::{NamePatterns, ZipOptions};
use elb_examples::config::{split_location, storage};
use elb_examples::{Args, ExampleError, ProgressBar, format_bytes, format_duration, run};

const EXAMPLE: &str = "zip_results";

fn main() -> ExitCode {
    run(zip_results())
}

async fn zip_results() -> Result<(), ExampleError> {
    let args = Args::parse(&["include", "exclude"], &["deflate"])?;
    let values = args.expect_positional(
        EXAMPLE,
        &[
            (
                "CONTAINER/PREFIX",
                "the search's results folder (first argument)",
            ),
            ("OUTPUT_ZIP", "the ZIP file to write (second argument)"),
        ],
    )?;
    let (container, prefix) = split_location(&values[0])?;
    let output = &values[1];
    let settings = storage(EXAMPLE)?;

    let bar = ProgressBar::new(format!("zipping {container}/{prefix}"));
    let mut options = ZipOptions {
        deflate: args.flag("deflate"),
        progress: Some(bar.callback()),
        ..ZipOptions::default()
    };
    if let Some(include) = args.option("include") {
        options.include = NamePatterns::parse(include)?;
    }
    if let Some(exclude) = args.option("exclude") {
        options.exclude = NamePatterns::parse(exclude)?;
    }
    let file = tokio::fs::File::create(output).await?;
    let report = match settings
        .store
        .zip_prefix(&container, &prefix, &options, file)
        .await
    {
        Ok(report) => report,
        Err(error) => {
            // An archive cut short is not a valid ZIP, so it is not left behind.
            let _ = std::fs::remove_file(output);
            return Err(error.into());
        }
    };
    println!(
        "wrote {output}: {} entries, {} of content, {} archive, {} checked by MD5, in {}",
        report.entries.len(),
        format_bytes(report.content_bytes),
        format_bytes(report.archive_bytes),
        report.md5_verified,
        format_duration(report.elapsed)
    );
    Ok(())
}
