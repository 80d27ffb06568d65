//! Kubernetes names and label values: validation, and deterministic shortening with a hash
//! suffix so that a resubmitted search computes the same names.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Maximum length of an RFC 1123 label (a Job name) and of a label value.
pub const MAX_LABEL_LEN: usize = 63;

/// Number of hex digits of the SHA-256 suffix appended to a shortened name.
const HASH_SUFFIX_LEN: usize = 8;

/// Checks that `job_id` is a job store id: 8 to 12 lowercase hex digits.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] naming the value.
pub fn validate_job_id(job_id: &str) -> Result<()> {
    let valid = (8..=12).contains(&job_id.len()) && job_id.bytes().all(is_lower_hex);
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid job id {job_id:?}: expected 8 to 12 lowercase hex digits"
        )))
    }
}

/// Checks that `elb_job_id` is an ElasticBLAST search id: `job-` and 32 lowercase hex digits.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] naming the value.
pub fn validate_elb_job_id(elb_job_id: &str) -> Result<()> {
    let valid = elb_job_id
        .strip_prefix("job-")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(is_lower_hex));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid elb_job_id {elb_job_id:?}: expected \"job-\" followed by 32 lowercase hex digits"
        )))
    }
}

/// Checks that `name` is an RFC 1123 label: at most 63 lowercase letters, digits and
/// hyphens, starting and ending with a letter or digit.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] naming the value.
pub fn validate_dns_label(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_LABEL_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid name {name:?}: expected an RFC 1123 label of at most 63 lowercase \
             letters, digits and '-', starting and ending with a letter or digit"
        )))
    }
}

/// Checks that `value` is a valid value for the label `key`: empty, or at most 63
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] naming the label and the value.
pub fn validate_label_value(key: &str, value: &str) -> Result<()> {
    if is_label_value(value) {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid value {value:?} for label {key:?}: expected at most 63 letters, digits, \
             '-', '_' and '.', starting and ending with a letter or digit"
        )))
    }
}

fn is_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let bytes = value.as_bytes();
    value.len() <= MAX_LABEL_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Returns the first `len` hex digits of the SHA-256 of `input`.
pub fn short_hash(input: &str, len: usize) -> String {
    let digest = hex::encode(Sha256::digest(input.as_bytes()));
    digest[..len.min(digest.len())].to_owned()
}

/// Converts free text (a database name such as `core_nt.v5`) into a fragment of an RFC 1123
/// label: lowercase, with runs of other characters replaced by one `-`, and no `-` at
/// either end.
pub fn dns_label_fragment(text: &str) -> String {
    let mut fragment = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            fragment.push(c.to_ascii_lowercase());
        } else if !fragment.ends_with('-') {
            fragment.push('-');
        }
    }
    fragment.trim_matches('-').to_owned()
}

/// Shortens `text` to at most `max_len` characters, keeping its start and appending `-` and
/// a hash of the whole text, so that different long inputs stay distinct and the same input
/// always gives the same result. Text that fits is returned unchanged.
///
/// `text` must be ASCII (a DNS fragment or a label value). The result never ends with `-`,
/// `_` or `.`.
pub fn shorten_with_hash(text: &str, max_len: usize) -> String {
    if text.len() <= max_len {
        return text.to_owned();
    }
    let hash = short_hash(text, HASH_SUFFIX_LEN);
    let keep = max_len.saturating_sub(HASH_SUFFIX_LEN + 1);
    let head = text[..keep].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        hash[..max_len.min(hash.len())].to_owned()
    } else {
        format!("{head}-{hash}")
    }
}

/// Returns a valid label value for free text: unchanged when valid, otherwise with invalid
/// characters replaced by `-` and shortened with a hash suffix when longer than 63.
pub fn label_value_for(text: &str) -> String {
    if is_label_value(text) {
        return text.to_owned();
    }
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.len() <= MAX_LABEL_LEN && trimmed == cleaned {
        return trimmed.to_owned();
    }
    // Hash the original text so that two inputs that clean to the same value stay distinct.
    let hash = short_hash(text, HASH_SUFFIX_LEN);
    let keep = MAX_LABEL_LEN - HASH_SUFFIX_LEN - 1;
    let head =
        trimmed[..trimmed.len().min(keep)].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

/// Computes the name of a search's batch Job:
/// `<program>-batch-<db label>-job-<NNN>-<short id>`, at most 63 characters.
///
/// The db label is the database name as an RFC 1123 fragment, followed by `-<shard>` for a
/// shard of a partitioned database. When the name would be too long, only the db label is
/// shortened, with a hash of the full database name and shard. So every part of the pattern
/// stays readable, and the same inputs always give the same name. The short id is
/// the first 8 hex digits of `elb_job_id`.
///
/// # Errors
///
/// Returns [`crate::ErrorKind::InvalidInput`] when `elb_job_id` is invalid or the program
/// name cannot make a valid name.
pub fn batch_job_name(
    program: &str,
    db: &str,
    shard: Option<&str>,
    batch: u32,
    elb_job_id: &str,
) -> Result<String> {
    validate_elb_job_id(elb_job_id)?;
    let short_id = &elb_job_id["job-".len().."job-".len() + 8];
    let program_label = dns_label_fragment(program);
    if program_label.is_empty() || program_label.len() > 20 {
        return Err(Error::invalid_input(format!(
            "invalid BLAST program {program:?}: expected a program name such as blastn"
        )));
    }
    let mut db_label = dns_label_fragment(db);
    if let Some(shard) = shard {
        db_label = format!("{db_label}-{}", dns_label_fragment(shard));
    }
    let db_label = db_label.trim_matches('-');
    if db_label.is_empty() {
        return Err(Error::invalid_input(format!(
            "invalid database name {db:?}: it must contain at least one letter or digit"
        )));
    }

    let fixed = format!("{program_label}-batch--job-{batch:03}-{short_id}");
    let room = MAX_LABEL_LEN.saturating_sub(fixed.len());
    let db_label = shorten_with_hash(db_label, room);
    let name = format!("{program_label}-batch-{db_label}-job-{batch:03}-{short_id}");
    validate_dns_label(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELB_ID: &str = "job-7f598a7eb6aa4e53a122c2a4d85a117f";

    #[test]
    fn job_id_accepts_8_to_12_hex() {
        assert!(validate_job_id("0a1b2c3d").is_ok());
        assert!(validate_job_id("0a1b2c3d4e5f").is_ok());
        for bad in ["0a1b2c3", "0a1b2c3d4e5f6", "0A1B2C3D", "0a1b2c3g", ""] {
            let error = validate_job_id(bad).expect_err(bad);
            assert!(error.message().contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn elb_job_id_requires_prefix_and_32_hex() {
        assert!(validate_elb_job_id(ELB_ID).is_ok());
        assert!(validate_elb_job_id("7f598a7eb6aa4e53a122c2a4d85a117f").is_err());
        assert!(validate_elb_job_id("job-7f598a7eb6aa4e53a122c2a4d85a117").is_err());
        assert!(validate_elb_job_id("job-7F598A7EB6AA4E53A122C2A4D85A117F").is_err());
    }

    #[test]
    fn label_value_rules() {
        assert!(validate_label_value("db", "core_nt_pathogen").is_ok());
        assert!(validate_label_value("db", "").is_ok());
        assert!(validate_label_value("db", "-x").is_err());
        assert!(validate_label_value("db", "a/b").is_err());
        assert!(validate_label_value("db", &"a".repeat(64)).is_err());
        assert_eq!(label_value_for("core_nt_pathogen"), "core_nt_pathogen");
        assert_eq!(label_value_for("my db/v5"), "my-db-v5");
        let long = label_value_for(&"x".repeat(100));
        assert!(long.len() <= MAX_LABEL_LEN);
        assert!(is_label_value(&long));
    }

    #[test]
    fn batch_name_follows_pattern() {
        let name = batch_job_name("blastn", "core_nt_pathogen", None, 7, ELB_ID).unwrap();
        assert_eq!(name, "blastn-batch-core-nt-pathogen-job-007-7f598a7e");
    }

    #[test]
    fn batch_name_includes_shard() {
        let name = batch_job_name("blastp", "nr", Some("03"), 12, ELB_ID).unwrap();
        assert_eq!(name, "blastp-batch-nr-03-job-012-7f598a7e");
    }

    #[test]
    fn long_db_name_is_shortened_deterministically() {
        let db = "a_very_long_database_name_that_goes_on_and_on_for_ever_and_ever";
        let first = batch_job_name("tblastx", db, None, 123, ELB_ID).unwrap();
        let again = batch_job_name("tblastx", db, None, 123, ELB_ID).unwrap();
        let other = batch_job_name("tblastx", &format!("{db}_2"), None, 123, ELB_ID).unwrap();
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert!(first.len() <= MAX_LABEL_LEN, "{first}");
        assert!(first.starts_with("tblastx-batch-a-very-long"), "{first}");
        assert!(first.ends_with("-job-123-7f598a7e"), "{first}");
        assert!(validate_dns_label(&first).is_ok());
    }

    #[test]
    fn batch_numbers_past_999_keep_all_digits() {
        let name = batch_job_name("blastn", "nt", None, 1234, ELB_ID).unwrap();
        assert_eq!(name, "blastn-batch-nt-job-1234-7f598a7e");
    }

    #[test]
    fn dns_label_rules() {
        assert!(validate_dns_label("elb-job-0a1b2c3d").is_ok());
        assert!(validate_dns_label("Elb").is_err());
        assert!(validate_dns_label("a_b").is_err());
        assert!(validate_dns_label("-a").is_err());
        assert!(validate_dns_label(&"a".repeat(64)).is_err());
    }
}
