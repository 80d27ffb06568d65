//! Include and exclude name patterns in azcopy's style (`"*.out.gz;*.out"`).

use std::fmt;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::{Error, Result};

/// A set of glob patterns that select files or blobs by name.
///
/// The text form is azcopy's `--include-pattern`: globs separated by `;`, for example
/// `"*.out.gz;*.out"`. Whitespace around each glob is ignored and empty entries are dropped.
///
/// - A glob without `/` is matched against the file name only (the last path component), so
///   `*.out.gz` selects `batch_000.out.gz` in every directory.
/// - A glob with `/` is matched against the whole path relative to the directory or prefix.
///   `*` and `?` stay within one component and `**` spans any number of them. So
///   `metadata/*.txt` selects `metadata/SUCCESS.txt` only at the top level, and `**/logs/*`
///   selects every file directly inside any `logs` directory.
///
/// Matching is case-sensitive, like blob names. An empty set matches nothing, which
/// [`PatternFilter`] treats as "no restriction" for includes.
#[derive(Clone, Default)]
pub struct NamePatterns {
    sources: Vec<String>,
    by_name: GlobSet,
    by_path: GlobSet,
}

impl NamePatterns {
    /// Parses a `;`-separated list of globs.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the first
    /// glob that does not parse (for example an unclosed `[` or `{`).
    pub fn parse(list: &str) -> Result<Self> {
        Self::from_globs(list.split(';'))
    }

    /// Builds a set from separate globs, for callers that already hold a list.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the first
    /// glob that does not parse.
    pub fn from_globs<I, S>(globs: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut sources = Vec::new();
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        for glob in globs {
            let glob = glob.as_ref().trim();
            if glob.is_empty() {
                continue;
            }
            let compiled = compile(glob)?;
            if glob.contains('/') {
                by_path.add(compiled);
            } else {
                by_name.add(compiled);
            }
            sources.push(glob.to_owned());
        }
        Ok(Self {
            sources,
            by_name: build(by_name)?,
            by_path: build(by_path)?,
        })
    }

    /// Returns `true` when the set contains no glob.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Returns the globs as given, without the empty entries.
    pub fn globs(&self) -> &[String] {
        &self.sources
    }

    /// Returns `true` when any glob matches `relative_path` (components separated by `/`).
    pub fn matches(&self, relative_path: &str) -> bool {
        let file_name = relative_path.rsplit('/').next().unwrap_or(relative_path);
        self.by_name.is_match(file_name) || self.by_path.is_match(relative_path)
    }
}

impl fmt::Debug for NamePatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NamePatterns").field(&self.sources).finish()
    }
}

impl fmt::Display for NamePatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sources.join(";"))
    }
}

impl std::str::FromStr for NamePatterns {
    type Err = Error;

    fn from_str(list: &str) -> Result<Self> {
        Self::parse(list)
    }
}

/// An include set and an exclude set applied together.
///
/// A path passes when the include set is empty or matches it, and the exclude set does not
/// match it. Exclusion wins over inclusion, as in azcopy.
#[derive(Clone, Debug, Default)]
pub struct PatternFilter {
    /// Paths to keep; empty keeps everything.
    pub include: NamePatterns,
    /// Paths to drop, even when the include set matches them.
    pub exclude: NamePatterns,
}

impl PatternFilter {
    /// Creates a filter from `;`-separated include and exclude lists (either may be empty).
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the first
    /// glob that does not parse.
    pub fn parse(include: &str, exclude: &str) -> Result<Self> {
        Ok(Self {
            include: NamePatterns::parse(include)?,
            exclude: NamePatterns::parse(exclude)?,
        })
    }

    /// Returns `true` when `relative_path` passes the filter.
    pub fn accepts(&self, relative_path: &str) -> bool {
        let included = self.include.is_empty() || self.include.matches(relative_path);
        included && !self.exclude.matches(relative_path)
    }
}

fn compile(glob: &str) -> Result<Glob> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|error| {
            Error::invalid_input(format!(
                "invalid name pattern {glob:?}: {error}; use globs such as \"*.out.gz\" \
                 separated by ';'"
            ))
        })
}

fn build(builder: GlobSetBuilder) -> Result<GlobSet> {
    builder.build().map_err(|error| {
        Error::invalid_input(format!("invalid name patterns: {error}")).with_source(error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azcopy_list_matches_file_names() {
        let patterns = NamePatterns::parse("*.out.gz;*.out").unwrap();
        assert_eq!(patterns.globs(), ["*.out.gz", "*.out"]);
        assert!(patterns.matches("batch_000-blastn-core_nt.out.gz"));
        assert!(patterns.matches("shard_01/batch_003-blastn-nt.out"));
        assert!(patterns.matches("merged_results.out.gz"));
        assert!(!patterns.matches("metadata/SUCCESS.txt"));
        assert!(!patterns.matches("batch_000.out.gz.tmp"));
    }

    #[test]
    fn name_glob_ignores_directories() {
        let patterns = NamePatterns::parse("*.txt").unwrap();
        assert!(patterns.matches("metadata/SUCCESS.txt"));
        assert!(patterns.matches("a/b/c/d.txt"));
        assert!(!patterns.matches("metadata.txt/x"));
    }

    #[test]
    fn path_glob_is_anchored() {
        let patterns = NamePatterns::parse("metadata/*.txt").unwrap();
        assert!(patterns.matches("metadata/SUCCESS.txt"));
        assert!(!patterns.matches("shard_00/metadata/SUCCESS.txt"));
        assert!(!patterns.matches("metadata/deeper/x.txt"));
    }

    #[test]
    fn double_star_spans_directories() {
        let patterns = NamePatterns::parse("**/logs/*").unwrap();
        assert!(patterns.matches("logs/submit.log"));
        assert!(patterns.matches("shard_00/logs/submit.log"));
        assert!(!patterns.matches("logs/a/submit.log"));
    }

    #[test]
    fn whitespace_and_empty_entries_dropped() {
        let patterns = NamePatterns::parse(" *.fa ; ;;*.fasta ").unwrap();
        assert_eq!(patterns.globs(), ["*.fa", "*.fasta"]);
        assert_eq!(patterns.to_string(), "*.fa;*.fasta");
        assert!(NamePatterns::parse("").unwrap().is_empty());
        assert!(NamePatterns::parse(" ; ").unwrap().is_empty());
    }

    #[test]
    fn matching_is_case_sensitive() {
        let patterns = NamePatterns::parse("*.TXT").unwrap();
        assert!(!patterns.matches("SUCCESS.txt"));
        assert!(patterns.matches("NOTES.TXT"));
    }

    #[test]
    fn special_characters_match_literally() {
        let patterns = NamePatterns::parse("résumé *.txt;\\[1\\]*").unwrap();
        assert!(patterns.matches("dir/résumé final.txt"));
        assert!(patterns.matches("[1] notes"));
        assert!(!patterns.matches("1 notes"));
    }

    #[test]
    fn invalid_glob_is_named() {
        let error = NamePatterns::parse("*.out;batch_[0-9").unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(error.message().contains("\"batch_[0-9\""), "{error}");
    }

    #[test]
    fn filter_exclude_wins() {
        let filter = PatternFilter::parse("*.out.gz;metadata/*", "FAILURE.txt").unwrap();
        assert!(filter.accepts("batch_000.out.gz"));
        assert!(filter.accepts("metadata/SUCCESS.txt"));
        assert!(!filter.accepts("metadata/FAILURE.txt"));
        assert!(!filter.accepts("query_batches/batch_000.fa"));
    }

    #[test]
    fn empty_filter_accepts_everything() {
        let filter = PatternFilter::default();
        assert!(filter.accepts("anything/at/all"));
        let only_exclude = PatternFilter::parse("", "*.log").unwrap();
        assert!(only_exclude.accepts("a.txt"));
        assert!(!only_exclude.accepts("logs/k8s.log"));
    }
}
