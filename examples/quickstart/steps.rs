//! Numbered steps: one line each when it ends, and a summary with timings.

use std::future::Future;
use std::time::{Duration, Instant};

use elb_examples::{ExampleError, format_duration};

/// The steps of a run and how long each took.
pub(crate) struct Steps {
    total: usize,
    started: Instant,
    timings: Vec<(&'static str, Duration)>,
}

impl Steps {
    /// Starts the clock of a run of `total` steps.
    pub(crate) fn new(total: usize) -> Self {
        Self {
            total,
            started: Instant::now(),
            timings: Vec::new(),
        }
    }

    /// Runs one step, whose future returns its value and a line describing what it did, and
    /// prints that line with the step's number and duration.
    ///
    /// # Errors
    ///
    /// Returns the step's error after printing which step failed.
    pub(crate) async fn run<T>(
        &mut self,
        name: &'static str,
        step: impl Future<Output = Result<(T, String), ExampleError>>,
    ) -> Result<T, ExampleError> {
        let number = self.timings.len() + 1;
        let started = Instant::now();
        let outcome = step.await;
        let elapsed = started.elapsed();
        match outcome {
            Ok((value, detail)) => {
                println!(
                    "[{number:>2}/{}] {detail} ({})",
                    self.total,
                    format_duration(elapsed)
                );
                self.timings.push((name, elapsed));
                Ok(value)
            }
            Err(error) => {
                println!(
                    "[{number:>2}/{}] {name}: FAILED after {}",
                    self.total,
                    format_duration(elapsed)
                );
                Err(error)
            }
        }
    }

    /// Prints the summary: the `facts` lines, then each step's time and the total.
    pub(crate) fn print_summary(&self, facts: &[String]) {
        println!();
        println!(
            "quickstart passed: {} of {} steps",
            self.timings.len(),
            self.total
        );
        for fact in facts {
            println!("  {fact}");
        }
        println!("  timings:");
        for (name, elapsed) in &self.timings {
            println!("    {name:<34} {:>8}", format_duration(*elapsed));
        }
        println!(
            "    {:<34} {:>8}",
            "total",
            format_duration(self.started.elapsed())
        );
    }
}
