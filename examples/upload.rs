//! Uploads a file or a directory to Azure Blob Storage, with a progress bar for directories.
//!
//! ```sh
//! cargo run -p elb-examples --example upload -- LOCAL_PATH CONTAINER[/PREFIX]
//! ```
//!
//! A file goes to `PREFIX/<file name>` (or to the container's root); a directory's files go
//! under `PREFIX/`, keeping their relative paths. Existing blobs are replaced. The container
//! must exist, because the example does not create it.
//!
//! Settings (environment variables):
//!
//! - `ELB_STORAGE_URL`: the account URL, `https://<account>.blob.core.windows.net`.
//! - one authorization: `ELB_STORAGE_SAS` (a SAS query), `AZURE_STORAGE_KEY` (the account
//!   key), or Entra ID through the credentials of `ELB_CREDENTIALS` (default
//!   `client-secret,workload-identity,azure-cli`, which read `AZURE_CLIENT_ID`,
//!   `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_FEDERATED_TOKEN_FILE` or `az login`).
//!   Managed identity is tried only when `ELB_CREDENTIALS` names `managed-identity`.
//! - `SSL_CERT_FILE`: extra root certificates, for a private endpoint or an emulator.

use std::path::Path;
use std::process::ExitCode;

use elb_core::blob::{TreeOptions, UploadOptions};
use elb_examples::config::{split_location, storage};
use elb_examples::{Args, ExampleError, ProgressBar, format_bytes, format_duration, run};

const EXAMPLE: &str = "upload";

fn main() -> ExitCode {
    run(upload())
}

async fn upload() -> Result<(), ExampleError> {
    let args = Args::parse(&[], &[])?;
    let values = args.expect_positional(
        EXAMPLE,
        &[
            (
                "LOCAL_PATH",
                "the file or directory to upload (first argument)",
            ),
            (
                "CONTAINER[/PREFIX]",
                "where it goes in the account (second argument)",
            ),
        ],
    )?;
    let local = Path::new(&values[0]);
    let (container, prefix) = split_location(&values[1])?;
    let settings = storage(EXAMPLE)?;
    let store = &settings.store;
    println!(
        "uploading {} to {}/{container}/{prefix} ({} authorization)",
        local.display(),
        settings.account_url,
        settings.auth_kind
    );

    if local.is_dir() {
        let bar = ProgressBar::new(format!("uploading {}", local.display()));
        let options = TreeOptions {
            progress: Some(bar.callback()),
            ..TreeOptions::default()
        };
        let report = store
            .upload_dir(local, &container, &prefix, &options)
            .await?
            .ensure_success()?;
        println!(
            "uploaded {} files, {} in {}",
            report.files,
            format_bytes(report.bytes),
            format_duration(report.elapsed)
        );
        return Ok(());
    }

    let file_name = local
        .file_name()
        .ok_or_else(|| ExampleError::Other(format!("{} has no file name", local.display())))?
        .to_string_lossy();
    let blob = if prefix.is_empty() {
        file_name.into_owned()
    } else {
        format!("{prefix}/{file_name}")
    };
    let started = std::time::Instant::now();
    let report = store
        .upload_file(&container, &blob, local, &UploadOptions::default())
        .await?;
    let md5 = report.content_md5.map(hex::encode).unwrap_or_default();
    println!(
        "uploaded {container}/{blob}: {} in {} ({} blocks, MD5 {md5})",
        format_bytes(report.bytes),
        format_duration(started.elapsed()),
        report.blocks
    );
    Ok(())
}
