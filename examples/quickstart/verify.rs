//! Checking the downloaded results ZIP against the source tree, entry by entry.

use std::collections::BTreeSet;
use std::path::Path;

use elb_examples::zip_read::read_entries;
use md5::{Digest, Md5};

use super::results::relative_files;

/// The outcome of a successful check.
pub(crate) struct Verified {
    /// Number of entries whose MD5 equals the source file's.
    pub(crate) entries: usize,
    /// Number of files in the source tree.
    pub(crate) sources: usize,
}

/// Checks that the archive at `zip` has one entry per file of `tree`, each with the MD5 of
/// that file.
///
/// # Errors
///
/// Returns a message naming the first missing, extra or different entry.
pub(crate) fn verify_zip(zip: &Path, tree: &Path) -> Result<Verified, String> {
    let data =
        std::fs::read(zip).map_err(|error| format!("cannot read {}: {error}", zip.display()))?;
    let entries = read_entries(&data).map_err(|error| format!("{}: {error}", zip.display()))?;
    let sources =
        relative_files(tree).map_err(|error| format!("cannot list {}: {error}", tree.display()))?;

    let names: BTreeSet<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    let expected: BTreeSet<&str> = sources.iter().map(String::as_str).collect();
    if let Some(missing) = expected.difference(&names).next() {
        return Err(format!("the ZIP has no entry {missing}"));
    }
    if let Some(extra) = names.difference(&expected).next() {
        return Err(format!("the ZIP has an unexpected entry {extra}"));
    }
    for entry in &entries {
        let source = std::fs::read(tree.join(&entry.name))
            .map_err(|error| format!("cannot read source file {}: {error}", entry.name))?;
        let entry_md5 = hex::encode(Md5::digest(&entry.content));
        let source_md5 = hex::encode(Md5::digest(&source));
        if entry_md5 != source_md5 {
            return Err(format!(
                "entry {} has MD5 {entry_md5}, but the source file has {source_md5}",
                entry.name
            ));
        }
    }
    Ok(Verified {
        entries: entries.len(),
        sources: sources.len(),
    })
}
