//! The goals elb is measured against, checked on the figures of one run.

use crate::contenders::{Contender, Direction};
use crate::endpoint::EndpointKind;
use crate::report::{Metric, Results, Stats, line, number};

/// One goal and how the run did.
struct Check {
    goal: String,
    measured: String,
    met: Option<bool>,
}

/// Appends the table of goals to `page`.
pub(crate) fn section(page: &mut String, results: &Results) {
    let checks = checks(results);
    if checks.is_empty() {
        return;
    }
    line(page, "");
    line(page, "## Targets");
    line(page, "");
    line(page, "| Goal | Measured (medians) | Met |");
    line(page, "|---|---|---|");
    for check in checks {
        let met = match check.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        line(
            page,
            format!("| {} | {} | {met} |", check.goal, check.measured),
        );
    }
}

fn speed(
    results: &Results,
    endpoint: EndpointKind,
    workload: &str,
    direction: Direction,
    contender: Contender,
) -> Option<f64> {
    results
        .cell(endpoint, workload, direction, contender)
        .and_then(|cell| cell.stats(Metric::Speed))
        .map(|stats| stats.median)
}

fn checks(results: &Results) -> Vec<Check> {
    let mut checks = Vec::new();
    let azurite = EndpointKind::Azurite;
    let directions = [Direction::Upload, Direction::Download];

    for (workload, upload_share, download_share) in
        [("large", 0.9, 0.7), ("db", 0.9, 0.7), ("results", 0.9, 0.9)]
    {
        for (direction, share) in [
            (Direction::Upload, upload_share),
            (Direction::Download, download_share),
        ] {
            let elb = speed(results, azurite, workload, direction, Contender::Elb);
            let curl = speed(results, azurite, workload, direction, Contender::Curl);
            let ratio = elb.zip(curl).map(|(elb, curl)| elb / curl);
            checks.push(Check {
                goal: format!("Azurite {workload} {}: ≥ {share} of curl", direction.name()),
                measured: ratio
                    .map_or("–".to_owned(), |ratio| format!("{}× curl", number(ratio))),
                met: ratio.map(|ratio| ratio >= share),
            });
        }
    }

    for latency in &results.latency {
        let upload = Stats::of(&latency.upload_ms).map(|stats| stats.median);
        let download = Stats::of(&latency.download_ms).map(|stats| stats.median);
        let worst = upload.zip(download).map(|(up, down)| up.max(down));
        checks.push(Check {
            goal: format!(
                "{}: one 4 KiB file from a running process < 50 ms",
                latency.endpoint.name()
            ),
            measured: format!(
                "upload {} ms, download {} ms",
                upload.map_or("–".to_owned(), number),
                download.map_or("–".to_owned(), number)
            ),
            met: worst.map(|worst| worst < 50.0),
        });
    }

    let elb_cells: Vec<_> = results
        .cells
        .iter()
        .filter(|cell| cell.contender == Contender::Elb)
        .collect();
    let worst_cpu = elb_cells
        .iter()
        .filter(|cell| cell.workload == "large" || cell.workload == "db")
        .filter_map(|cell| {
            cell.stats(Metric::CpuPerGib)
                .map(|stats| (stats.median, cell))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    checks.push(Check {
        goal: "≤ 1.0 CPU s/GiB either way (large and db)".to_owned(),
        measured: worst_cpu.map_or("–".to_owned(), |(value, cell)| {
            format!(
                "worst {} s/GiB ({} {} {})",
                number(value),
                cell.endpoint.name(),
                cell.workload,
                cell.direction.name()
            )
        }),
        met: worst_cpu.map(|(value, _)| value <= 1.0),
    });
    let worst_rss = elb_cells
        .iter()
        .filter_map(|cell| {
            cell.stats(Metric::PeakRss)
                .map(|stats| (stats.median, cell))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    checks.push(Check {
        goal: "peak RSS < 100 MB".to_owned(),
        measured: worst_rss.map_or("–".to_owned(), |(value, cell)| {
            format!(
                "worst {} MB ({} {} {})",
                number(value),
                cell.endpoint.name(),
                cell.workload,
                cell.direction.name()
            )
        }),
        met: worst_rss.map(|(value, _)| value < 100.0),
    });

    for other in [Contender::AzcopyTuned, Contender::Python] {
        let mut behind = Vec::new();
        let mut measured = 0;
        for cell in &elb_cells {
            if let Some(ratio) = results.advantage(
                cell.endpoint,
                &cell.workload,
                cell.direction,
                other,
                Metric::Speed,
            ) {
                measured += 1;
                if ratio < 1.0 {
                    behind.push(format!(
                        "{} {} {} {}×",
                        cell.endpoint.name(),
                        cell.workload,
                        cell.direction.name(),
                        number(ratio)
                    ));
                }
            }
        }
        checks.push(Check {
            goal: format!("faster than {} everywhere", other.name()),
            measured: if behind.is_empty() {
                format!("ahead in all {measured} cells")
            } else {
                format!("behind in {}", behind.join(", "))
            },
            met: (measured > 0).then_some(behind.is_empty()),
        });
    }

    for (workload, factor) in [("large", 1.5), ("db", 1.5), ("results", 2.0)] {
        for direction in directions {
            let ratio = results.advantage(
                EndpointKind::Memory,
                workload,
                direction,
                Contender::AzcopyTuned,
                Metric::Speed,
            );
            checks.push(Check {
                goal: format!(
                    "in-memory {workload} {}: ≥ {factor}× azcopy-tuned",
                    direction.name()
                ),
                measured: ratio.map_or("–".to_owned(), |ratio| format!("{}×", number(ratio))),
                met: ratio.map(|ratio| ratio >= factor),
            });
        }
    }
    checks
}
