//! Random ids of new jobs and searches.

use rand::Rng;

/// Number of hex digits of a job id that [`new_job_id`] creates (the format allows 8 to 12).
pub const JOB_ID_DIGITS: usize = 12;

/// Creates a random job store id of [`JOB_ID_DIGITS`] lowercase hex digits.
pub fn new_job_id() -> String {
    random_hex(JOB_ID_DIGITS)
}

/// Creates a random ElasticBLAST search id: `job-` followed by 32 lowercase hex digits.
pub fn new_elb_job_id() -> String {
    format!("job-{}", random_hex(32))
}

fn random_hex(digits: usize) -> String {
    let mut rng = rand::rng();
    (0..digits)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::names::{validate_elb_job_id, validate_job_id};

    #[test]
    fn ids_are_valid_and_distinct() {
        let first = new_job_id();
        validate_job_id(&first).unwrap();
        assert_ne!(first, new_job_id());

        let search = new_elb_job_id();
        validate_elb_job_id(&search).unwrap();
        assert_ne!(search, new_elb_job_id());
    }
}
