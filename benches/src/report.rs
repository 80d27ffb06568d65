//! The results of a run, their statistics, and the BENCHMARKS.md page built from them.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::contenders::{Contender, Direction};
use crate::endpoint::EndpointKind;
use crate::measure::Usage;
use crate::workloads::MIB;

/// Everything one run measured, written as `results.json` for the chart script.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// The UTC date and time the run started.
    pub date: String,
    /// Whether the run used the tiny smoke-test sizes.
    pub smoke: bool,
    /// Repetitions of every measured run.
    pub repetitions: usize,
    /// `(name, value)` pairs describing the machine.
    pub machine: Vec<(String, String)>,
    /// `(program, version)` pairs of the contenders and endpoints.
    pub versions: Vec<(String, String)>,
    /// `(workload name, description)` pairs, in order.
    pub workloads: Vec<(String, String)>,
    /// The storage mode of Azurite, as shown in the report.
    pub azurite_storage: String,
    /// The command that produced the run.
    pub command: String,
    /// One entry per endpoint, workload, contender and direction.
    pub cells: Vec<Cell>,
    /// In-process latency of elb per endpoint.
    pub latency: Vec<Latency>,
    /// Cells that failed, with the reason.
    pub failures: Vec<String>,
}

/// The repetitions of one contender moving one workload in one direction.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cell {
    /// The endpoint.
    pub endpoint: EndpointKind,
    /// The workload name.
    pub workload: String,
    /// The contender.
    pub contender: Contender,
    /// Upload or download.
    pub direction: Direction,
    /// Files moved per repetition.
    pub files: u64,
    /// Bytes moved per repetition.
    pub bytes: u64,
    /// The command of the last repetition, with the SAS elided.
    pub command: String,
    /// One usage per repetition.
    pub samples: Vec<Usage>,
}

/// Milliseconds of single-file operations from one running elb process.
#[derive(Debug, Serialize, Deserialize)]
pub struct Latency {
    /// The endpoint.
    pub endpoint: EndpointKind,
    /// Milliseconds of each 4 KiB upload.
    pub upload_ms: Vec<f64>,
    /// Milliseconds of each 4 KiB download.
    pub download_ms: Vec<f64>,
}

/// The median, minimum and maximum of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The minimum.
    pub min: f64,
    /// The maximum.
    pub max: f64,
}

impl Stats {
    /// Computes the statistics of `values`, or `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The figure a table shows for a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// MiB per second, or files per second for the results workload, or milliseconds per
    /// run for the single small file.
    Speed,
    /// User plus system CPU seconds per GiB moved, or CPU milliseconds per run for the
    /// single small file.
    CpuPerGib,
    /// Peak resident memory in MB (10^6 bytes).
    PeakRss,
}

impl Cell {
    /// Returns the unit of [`Metric::Speed`] for this cell's workload.
    pub fn speed_unit(&self) -> &'static str {
        match self.workload.as_str() {
            "tiny" => "ms",
            "results" => "files/s",
            _ => "MiB/s",
        }
    }

    /// Returns one value of `metric` per repetition.
    pub fn values(&self, metric: Metric) -> Vec<f64> {
        self.samples
            .iter()
            .map(|sample| match metric {
                Metric::Speed => match self.speed_unit() {
                    "ms" => sample.wall_s * 1000.0,
                    "files/s" => self.files as f64 / sample.wall_s,
                    _ => self.bytes as f64 / MIB as f64 / sample.wall_s,
                },
                Metric::CpuPerGib if self.workload == "tiny" => {
                    (sample.user_s + sample.system_s) * 1000.0
                }
                Metric::CpuPerGib => {
                    (sample.user_s + sample.system_s) / (self.bytes as f64 / (1024.0 * MIB as f64))
                }
                Metric::PeakRss => sample.max_rss_kib as f64 * 1024.0 / 1e6,
            })
            .collect()
    }

    /// Returns the statistics of `metric` over the repetitions.
    pub fn stats(&self, metric: Metric) -> Option<Stats> {
        Stats::of(&self.values(metric))
    }
}

impl Results {
    /// Returns the cell of one endpoint, workload, direction and contender.
    pub fn cell(
        &self,
        endpoint: EndpointKind,
        workload: &str,
        direction: Direction,
        contender: Contender,
    ) -> Option<&Cell> {
        self.cells.iter().find(|cell| {
            cell.endpoint == endpoint
                && cell.workload == workload
                && cell.direction == direction
                && cell.contender == contender
        })
    }

    /// Returns how many times better elb is than `other` on `metric`: above 1 means elb
    /// is faster, uses less CPU or less memory.
    pub fn advantage(
        &self,
        endpoint: EndpointKind,
        workload: &str,
        direction: Direction,
        other: Contender,
        metric: Metric,
    ) -> Option<f64> {
        let elb = self.cell(endpoint, workload, direction, Contender::Elb)?;
        let peer = self.cell(endpoint, workload, direction, other)?;
        let elb_value = elb.stats(metric)?.median;
        let peer_value = peer.stats(metric)?.median;
        let higher_is_better = metric == Metric::Speed && elb.speed_unit() != "ms";
        let ratio = if higher_is_better {
            elb_value / peer_value
        } else {
            peer_value / elb_value
        };
        ratio.is_finite().then_some(ratio)
    }
}

/// Formats a number with three significant digits at most, and no exponent.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Formats statistics as `median (min–max)`.
pub fn stats_text(stats: Option<Stats>) -> String {
    match stats {
        Some(stats) => format!(
            "{} ({}–{})",
            number(stats.median),
            number(stats.min),
            number(stats.max)
        ),
        None => "failed".to_owned(),
    }
}

/// Formats a ratio as `1.23×`, or `–` when missing.
pub fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |ratio| format!("{ratio:.2}×"))
}

/// Appends one Markdown line to `page`.
pub(crate) fn line(page: &mut String, text: impl AsRef<str>) {
    let _ = writeln!(page, "{}", text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_the_middle_value() {
        let stats = Stats::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            stats,
            Stats {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        let even = Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn numbers_keep_three_digits() {
        assert_eq!(number(1408.4), "1408");
        assert_eq!(number(25.25), "25.2");
        assert_eq!(number(0.4567), "0.46");
    }
}
