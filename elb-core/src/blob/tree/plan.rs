//! Mapping between local directory trees and blob prefixes, with no network I/O.

use std::path::{Component, Path, PathBuf};

use crate::{Error, ErrorKind, Result};

/// A regular file found under a local directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LocalFile {
    /// The path relative to the walked directory, with `/` separators.
    pub(crate) relative: String,
    /// The full local path.
    pub(crate) path: PathBuf,
    /// Size in bytes when the directory was walked.
    pub(crate) size: u64,
}

/// Returns `prefix` as a directory prefix: empty stays empty, otherwise it ends with `/`.
///
/// Treating the prefix as a directory keeps `results/job1` from also matching
/// `results/job10/...`.
pub(crate) fn directory_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// Joins a directory prefix (from [`directory_prefix`]) and a relative path into a blob name.
pub(crate) fn blob_name(directory_prefix: &str, relative: &str) -> String {
    format!("{directory_prefix}{relative}")
}

/// Returns the path of `blob_name` relative to `directory_prefix`, checked to be a safe
/// relative local path.
///
/// # Errors
///
/// Returns [`ErrorKind::InvalidInput`] naming the blob when the remainder is empty,
/// absolute, contains a NUL, a backslash, an empty component, `.` or `..`, or (on Windows)
/// a drive prefix. Such a name could write outside the destination directory, or would not
/// map back to the same blob name.
pub(crate) fn relative_path(directory_prefix: &str, blob_name: &str) -> Result<String> {
    let Some(relative) = blob_name.strip_prefix(directory_prefix) else {
        return Err(unsafe_name(blob_name, "it is not under the prefix"));
    };
    if relative.is_empty() {
        return Err(unsafe_name(blob_name, "it names the prefix itself"));
    }
    if relative.contains('\0') {
        return Err(unsafe_name(blob_name, "it contains a NUL character"));
    }
    if relative.contains('\\') {
        return Err(unsafe_name(blob_name, "it contains a backslash"));
    }
    if relative.starts_with('/') {
        return Err(unsafe_name(
            blob_name,
            "the part after the prefix is absolute",
        ));
    }
    for component in relative.split('/') {
        match component {
            "" => {
                return Err(unsafe_name(
                    blob_name,
                    "it contains an empty path component",
                ));
            }
            "." | ".." => {
                return Err(unsafe_name(
                    blob_name,
                    &format!("it contains a {component:?} path component"),
                ));
            }
            _ => {}
        }
    }
    let as_path = Path::new(relative);
    if as_path
        .components()
        .any(|component| !matches!(component, Component::Normal(_)))
    {
        return Err(unsafe_name(
            blob_name,
            "it is not a plain relative path here",
        ));
    }
    Ok(relative.to_owned())
}

/// Returns the local path of a checked relative path under `root`.
pub(crate) fn local_path(root: &Path, relative: &str) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(relative.split('/'));
    path
}

/// Walks `root` and returns its regular files in path order.
///
/// Symbolic links to files are followed; symbolic links to directories are skipped, so a
/// link cycle cannot make the walk endless.
///
/// # Errors
///
/// Returns [`ErrorKind::NotFound`] when `root` is missing, [`ErrorKind::InvalidInput`]
/// when it is not a directory or a file name is not UTF-8, and I/O errors with the path.
pub(crate) fn walk(root: &Path) -> Result<Vec<LocalFile>> {
    let metadata = std::fs::metadata(root).map_err(|error| io_error(root, error))?;
    if !metadata.is_dir() {
        return Err(Error::invalid_input(format!(
            "{} is not a directory; pass the directory to upload",
            root.display()
        )));
    }
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((directory, relative_dir)) = pending.pop() {
        let entries = std::fs::read_dir(&directory).map_err(|error| io_error(&directory, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| io_error(&directory, error))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(Error::invalid_input(format!(
                    "file name {} is not valid UTF-8; blob names must be UTF-8",
                    path.display()
                )));
            };
            let relative = format!("{relative_dir}{name}");
            let file_type = entry.file_type().map_err(|error| io_error(&path, error))?;
            if file_type.is_dir() {
                pending.push((path, format!("{relative}/")));
                continue;
            }
            let metadata = if file_type.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(metadata) if metadata.is_file() => metadata,
                    Ok(_) => {
                        tracing::warn!(path = %path.display(), "skipping a link to a directory");
                        continue;
                    }
                    Err(error) => return Err(io_error(&path, error)),
                }
            } else if file_type.is_file() {
                entry.metadata().map_err(|error| io_error(&path, error))?
            } else {
                tracing::warn!(path = %path.display(), "skipping a file that is not regular");
                continue;
            };
            files.push(LocalFile {
                relative,
                path,
                size: metadata.len(),
            });
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(files)
}

fn unsafe_name(blob_name: &str, reason: &str) -> Error {
    Error::invalid_input(format!(
        "blob {blob_name:?} cannot be saved as a local file because {reason}; \
         exclude it with a pattern or rename the blob"
    ))
    .with_target(blob_name.to_owned())
}

pub(crate) fn io_error(path: &Path, error: std::io::Error) -> Error {
    let kind = match error.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        // A local fault, such as a file where a folder is needed: Service would blame the
        // storage account.
        _ => ErrorKind::InvalidInput,
    };
    Error::new(kind, format!("cannot read or write {}", path.display()))
        .with_target(path.display().to_string())
        .with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_becomes_directory() {
        assert_eq!(directory_prefix(""), "");
        assert_eq!(directory_prefix("results/job"), "results/job/");
        assert_eq!(directory_prefix("results/job/"), "results/job/");
        assert_eq!(
            blob_name("results/job/", "metadata/SUCCESS.txt"),
            "results/job/metadata/SUCCESS.txt"
        );
        assert_eq!(blob_name("", "a.txt"), "a.txt");
    }

    #[test]
    fn relative_path_strips_prefix() {
        assert_eq!(
            relative_path("r/j/", "r/j/logs/a.log").unwrap(),
            "logs/a.log"
        );
        assert_eq!(relative_path("", "é/日本.txt").unwrap(), "é/日本.txt");
        assert_eq!(relative_path("", "a b/c..d").unwrap(), "a b/c..d");
    }

    #[test]
    fn unsafe_names_are_rejected() {
        let cases = [
            ("p/", "p/../escape.txt", "\"..\""),
            ("p/", "p/a/../../x", "\"..\""),
            ("p/", "p//etc/passwd", "absolute"),
            ("", "/etc/passwd", "absolute"),
            ("p/", "p/a\0b", "NUL"),
            ("p/", "p/a\\..\\b", "backslash"),
            ("p/", "p/a//b", "empty path component"),
            ("p/", "p/./a", "\".\""),
            ("p/", "p/", "prefix itself"),
            ("p/", "q/a", "not under the prefix"),
        ];
        for (prefix, name, reason) in cases {
            let error = relative_path(prefix, name).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{name:?}");
            assert!(error.message().contains(reason), "{name:?}: {error}");
            assert!(error.message().contains(&format!("{name:?}")), "{error}");
            assert_eq!(error.target(), Some(name));
        }
    }

    #[test]
    fn walk_finds_nested_files_in_order() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("b/c")).unwrap();
        std::fs::write(root.path().join("b/c/deep.txt"), b"12345").unwrap();
        std::fs::write(root.path().join("a.txt"), b"1").unwrap();
        std::fs::write(root.path().join("é.txt"), b"").unwrap();
        std::fs::create_dir(root.path().join("empty")).unwrap();

        let files = walk(root.path()).unwrap();
        let names: Vec<_> = files.iter().map(|file| file.relative.as_str()).collect();
        assert_eq!(names, ["a.txt", "b/c/deep.txt", "é.txt"]);
        assert_eq!(files[1].size, 5);
        assert_eq!(files[1].path, local_path(root.path(), "b/c/deep.txt"));
    }

    #[cfg(unix)]
    #[test]
    fn walk_skips_directory_links() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(root.path(), root.path().join("loop")).unwrap();
        std::os::unix::fs::symlink(root.path().join("f"), root.path().join("g")).unwrap();
        let files = walk(root.path()).unwrap();
        let names: Vec<_> = files.iter().map(|file| file.relative.as_str()).collect();
        assert_eq!(names, ["f", "g"]);
    }

    #[test]
    fn walk_rejects_missing_and_file_roots() {
        let root = tempfile::tempdir().unwrap();
        let error = walk(&root.path().join("missing")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        std::fs::write(root.path().join("file"), b"x").unwrap();
        let error = walk(&root.path().join("file")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}
