//! Minimal checks of inline FASTA text before it is stored.

use crate::{Error, Result};

/// Number of characters of the offending line that an error message quotes.
const QUOTED_CHARS: usize = 40;

/// The counts of valid FASTA text, as returned by [`validate_fasta`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastaSummary {
    /// Number of sequences (header lines starting with `>`).
    pub sequences: usize,
    /// Size of the text in bytes.
    pub bytes: usize,
}

/// Checks that `text` looks like FASTA: not blank, the first non-blank character is `>`, and
/// no NUL byte (a binary file).
///
/// The check is deliberately minimal: sequence letters are left for BLAST to judge, so
/// protein and nucleotide queries, lowercase masking and Windows line endings all pass.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] naming what is wrong and quoting the start of
/// the first line when it is not a header.
pub fn validate_fasta(text: &[u8]) -> Result<FastaSummary> {
    let body = trim_leading_blank(text);
    if body.is_empty() {
        return Err(Error::invalid_input(
            "FASTA query is empty: pass at least one sequence, starting with a '>' header line",
        ));
    }
    if !body.starts_with(b">") {
        let first_line = body.split(|byte| *byte == b'\n').next().unwrap_or_default();
        let quoted: String = String::from_utf8_lossy(first_line)
            .trim_end()
            .chars()
            .take(QUOTED_CHARS)
            .collect();
        return Err(Error::invalid_input(format!(
            "FASTA query does not start with a '>' header line (first line {quoted:?}): \
             add a header such as \">query1\" before the sequence"
        )));
    }
    if let Some(offset) = text.iter().position(|byte| *byte == 0) {
        return Err(Error::invalid_input(format!(
            "FASTA query contains a NUL byte at offset {offset}: pass a text file, not a \
             binary or compressed one"
        )));
    }
    let sequences = body
        .split(|byte| *byte == b'\n')
        .filter(|line| line.starts_with(b">"))
        .count();
    Ok(FastaSummary {
        sequences,
        bytes: text.len(),
    })
}

/// Skips a UTF-8 byte order mark and leading whitespace.
fn trim_leading_blank(text: &[u8]) -> &[u8] {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let start = text
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn counts_sequences() {
        let text = b">q1 first\nACGT\nACGT\n>q2\r\nMKV\r\n";
        let summary = validate_fasta(text).unwrap();
        assert_eq!(summary.sequences, 2);
        assert_eq!(summary.bytes, text.len());
    }

    #[test]
    fn accepts_leading_blank_lines_and_bom() {
        let summary = validate_fasta(b"\xEF\xBB\xBF\n  \n>q1\nACGT\n").unwrap();
        assert_eq!(summary.sequences, 1);
    }

    #[test]
    fn rejects_empty_and_blank() {
        for text in [&b""[..], b"   \n\t\n", b"\xEF\xBB\xBF"] {
            let error = validate_fasta(text).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            assert!(error.message().contains("empty"), "{error}");
        }
    }

    #[test]
    fn rejects_missing_header_and_quotes_line() {
        let error = validate_fasta(b"ACGTACGT\n>q1\nACGT\n").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.message().contains("\"ACGTACGT\""), "{error}");
        assert!(error.message().contains("'>' header"), "{error}");
    }

    #[test]
    fn quote_is_shortened() {
        let long = "A".repeat(500);
        let error = validate_fasta(long.as_bytes()).unwrap_err();
        let quoted = format!("\"{}\"", "A".repeat(QUOTED_CHARS));
        assert!(error.message().contains(&quoted), "{error}");
        assert!(!error.message().contains(&"A".repeat(QUOTED_CHARS + 1)));
    }

    #[test]
    fn rejects_nul_byte() {
        let error = validate_fasta(b">q1\nAC\0GT\n").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.message().contains("offset 6"), "{error}");
    }
}
