//! Command-line arguments of the examples: positional values, `--name value` options and
//! `--name` flags.

use std::collections::BTreeMap;

use crate::config::Missing;
use crate::outcome::ExampleError;

/// Parsed arguments.
#[derive(Debug, Default)]
pub struct Args {
    /// Positional values, in order.
    pub positional: Vec<String>,
    options: BTreeMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    /// Parses the process arguments.
    ///
    /// # Errors
    ///
    /// Returns [`ExampleError::Other`] naming an unknown option or an option without a value.
    pub fn parse(options: &[&str], flags: &[&str]) -> Result<Self, ExampleError> {
        Self::parse_from(std::env::args().skip(1), options, flags)
    }

    /// Parses `args`, given without the program name.
    ///
    /// # Errors
    ///
    /// As [`Args::parse`].
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        options: &[&str],
        flags: &[&str],
    ) -> Result<Self, ExampleError> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                parsed.positional.push(arg);
                continue;
            };
            if flags.contains(&name) {
                parsed.flags.push(name.to_owned());
            } else if options.contains(&name) {
                let value = args
                    .next()
                    .ok_or_else(|| ExampleError::Other(format!("option --{name} needs a value")))?;
                parsed.options.insert(name.to_owned(), value);
            } else {
                let mut known: Vec<String> =
                    options.iter().map(|o| format!("--{o} VALUE")).collect();
                known.extend(flags.iter().map(|f| format!("--{f}")));
                let known = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                return Err(ExampleError::Other(format!(
                    "unknown option --{name}: the options are {known}"
                )));
            }
        }
        Ok(parsed)
    }

    /// Returns the value of option `name`, when given.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// Returns whether flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|flag| flag == name)
    }

    /// Returns the positional values when there are exactly `names.len()` of them.
    ///
    /// # Errors
    ///
    /// Returns [`ExampleError::Missing`] listing the expected arguments of `example`.
    pub fn expect_positional(
        &self,
        example: &str,
        names: &[(&str, &str)],
    ) -> Result<Vec<String>, ExampleError> {
        if self.positional.len() == names.len() {
            return Ok(self.positional.clone());
        }
        let mut missing = Missing::new(example);
        for (name, meaning) in names {
            missing = missing.need(name, meaning);
        }
        Err(missing.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn options_flags_and_positional() {
        let args = Args::parse_from(
            strings(&["results/a", "--include", "*.out.gz", "out", "--keep"]),
            &["include"],
            &["keep"],
        )
        .unwrap();
        assert_eq!(args.positional, ["results/a", "out"]);
        assert_eq!(args.option("include"), Some("*.out.gz"));
        assert!(args.flag("keep"));
        assert!(!args.flag("other"));
    }

    #[test]
    fn unknown_and_incomplete_options_fail() {
        let error = Args::parse_from(strings(&["--bogus"]), &["include"], &[]).unwrap_err();
        assert!(
            error.to_string().contains("unknown option --bogus"),
            "{error}"
        );
        assert!(error.to_string().contains("--include VALUE"), "{error}");
        let error = Args::parse_from(strings(&["--include"]), &["include"], &[]).unwrap_err();
        assert!(
            error.to_string().contains("--include needs a value"),
            "{error}"
        );
    }
}
