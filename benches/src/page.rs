//! The BENCHMARKS.md page: tables of every figure, the targets, and the commands.

use crate::contenders::{Contender, Direction};
use crate::endpoint::EndpointKind;
use crate::report::{Metric, Results, Stats, line, ratio_text, stats_text};

/// Renders the page; `chart` is the chart's path relative to the page.
pub fn render(results: &Results, chart: &str) -> String {
    let mut page = String::new();
    line(&mut page, "# Benchmarks");
    line(&mut page, "");
    line(
        &mut page,
        "Throughput of elb's blob transfers against azcopy, the Python azure-storage-blob SDK \
         and plain curl, all run in one invocation against the same endpoint with the same \
         generated data. `scripts/bench` regenerates this page, the chart and \
         `benches/results.json`.",
    );
    line(&mut page, "");
    machine_section(&mut page, results);
    line(&mut page, "");
    line(&mut page, format!("![Throughput chart]({chart})"));
    method_section(&mut page);

    for endpoint in endpoints(results) {
        line(&mut page, "");
        line(
            &mut page,
            format!("## {}", endpoint_title(endpoint, results)),
        );
        for (metric, title) in [
            (
                Metric::Speed,
                "Speed (higher is better; ms: lower is better)",
            ),
            (
                Metric::CpuPerGib,
                "Client CPU seconds per GiB (user + system)",
            ),
            (Metric::PeakRss, "Client peak resident memory, MB"),
        ] {
            line(&mut page, "");
            line(&mut page, format!("### {title}"));
            line(&mut page, "");
            table(&mut page, results, endpoint, metric);
        }
    }

    latency_section(&mut page, results);
    crate::targets::section(&mut page, results);
    commands_section(&mut page, results);
    if !results.failures.is_empty() {
        line(&mut page, "");
        line(&mut page, "## Failed runs");
        line(&mut page, "");
        for failure in &results.failures {
            line(&mut page, format!("- {failure}"));
        }
    }
    page
}

fn endpoints(results: &Results) -> Vec<EndpointKind> {
    let mut endpoints = Vec::new();
    for cell in &results.cells {
        if !endpoints.contains(&cell.endpoint) {
            endpoints.push(cell.endpoint);
        }
    }
    endpoints
}

fn endpoint_title(endpoint: EndpointKind, results: &Results) -> String {
    match endpoint {
        EndpointKind::Azurite => format!("Azurite ({})", results.azurite_storage),
        EndpointKind::Memory => {
            "In-memory endpoint (benches/src/endpoint/memory, multi-threaded, in the harness \
             process)"
                .to_owned()
        }
    }
}

fn machine_section(page: &mut String, results: &Results) {
    line(page, format!("- Date: {}", results.date));
    for (name, value) in &results.machine {
        line(page, format!("- {name}: {value}"));
    }
    let versions: Vec<String> = results
        .versions
        .iter()
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    line(page, format!("- Versions: {}", versions.join(", ")));
    line(
        page,
        format!(
            "- Repetitions: {} per figure; each cell shows the median (min–max)",
            results.repetitions
        ),
    );
    let workloads: Vec<String> = results
        .workloads
        .iter()
        .map(|(name, description)| format!("`{name}`: {description}"))
        .collect();
    line(page, format!("- Workloads: {}", workloads.join("; ")));
    line(page, format!("- Command: `{}`", results.command));
    line(
        page,
        "- Every run is checked: downloaded files against the MD5 of the generated files, \
         uploaded blobs by listing them and reading them back with elb. CPU and memory are \
         the contender process's own (`getrusage(RUSAGE_CHILDREN)` in a wrapper process); the \
         endpoint's are not counted.",
    );
}

fn table(page: &mut String, results: &Results, endpoint: EndpointKind, metric: Metric) {
    let contenders = contenders(results);
    let mut header = "| Workload | Direction | Unit |".to_owned();
    let mut rule = "|---|---|---|".to_owned();
    for contender in &contenders {
        header.push_str(&format!(" {} |", contender.name()));
        rule.push_str("---:|");
    }
    header.push_str(" elb vs azcopy-tuned | elb vs python-sdk |");
    rule.push_str("---:|---:|");
    line(page, header);
    line(page, rule);
    for (workload, _) in &results.workloads {
        for direction in [Direction::Upload, Direction::Download] {
            let unit = results
                .cells
                .iter()
                .find(|cell| cell.endpoint == endpoint && &cell.workload == workload)
                .map(|cell| match metric {
                    Metric::Speed => cell.speed_unit(),
                    Metric::CpuPerGib if cell.workload == "tiny" => "CPU ms",
                    Metric::CpuPerGib => "s/GiB",
                    Metric::PeakRss => "MB",
                });
            let Some(unit) = unit else { continue };
            let mut row = format!("| {workload} | {} | {unit} |", direction.name());
            for &contender in &contenders {
                let stats: Option<Stats> = results
                    .cell(endpoint, workload, direction, contender)
                    .and_then(|cell| cell.stats(metric));
                row.push_str(&format!(" {} |", stats_text(stats)));
            }
            for other in [Contender::AzcopyTuned, Contender::Python] {
                let ratio = results.advantage(endpoint, workload, direction, other, metric);
                row.push_str(&format!(" {} |", ratio_text(ratio)));
            }
            line(page, row);
        }
    }
    line(page, "");
    line(
        page,
        "The two last columns say how many times better elb is (faster, less CPU, less \
         memory); below 1× elb is behind.",
    );
}

fn contenders(results: &Results) -> Vec<Contender> {
    Contender::ALL
        .into_iter()
        .filter(|contender| {
            results
                .cells
                .iter()
                .any(|cell| cell.contender == *contender)
        })
        .collect()
}

fn latency_section(page: &mut String, results: &Results) {
    if results.latency.is_empty() {
        return;
    }
    line(page, "");
    line(page, "## One 4 KiB file from a running elb process");
    line(page, "");
    line(
        page,
        "The `tiny` rows above include process start-up. Here one elb process times each \
         `upload_file` and `download_file` of the 4 KiB file after a warm-up request.",
    );
    line(page, "");
    line(page, "| Endpoint | Operations | Upload ms | Download ms |");
    line(page, "|---|---:|---:|---:|");
    for latency in &results.latency {
        line(
            page,
            format!(
                "| {} | {} | {} | {} |",
                latency.endpoint.name(),
                latency.upload_ms.len(),
                stats_text(Stats::of(&latency.upload_ms)),
                stats_text(Stats::of(&latency.download_ms))
            ),
        );
    }
}

fn commands_section(page: &mut String, results: &Results) {
    line(page, "");
    line(page, "## Commands");
    line(page, "");
    line(
        page,
        "The command of each contender's last run of the first workload, with paths of this \
         run's temporary folders and the SAS elided.",
    );
    let first = results
        .workloads
        .first()
        .map(|(name, _)| name.as_str())
        .unwrap_or("");
    for contender in contenders(results) {
        for direction in [Direction::Upload, Direction::Download] {
            let cell = results.cells.iter().find(|cell| {
                cell.contender == contender && cell.direction == direction && cell.workload == first
            });
            if let Some(cell) = cell {
                line(page, "");
                line(page, format!("{} {}:", contender.name(), direction.name()));
                line(page, "");
                line(page, format!("    {}", cell.command));
            }
        }
    }
}

fn method_section(page: &mut String) {
    line(page, "");
    line(page, "## Method");
    line(page, "");
    for item in [
        "Every endpoint, workload and contender gets a fresh endpoint. The harness seeds the \
         download data with elb, one `Put Blob` per file with its Content-MD5, so every \
         downloader can check it. Each upload goes to a new prefix, which is checked and then \
         deleted.",
        "The whole run, endpoints and clients, is in a network namespace with only loopback \
         (`unshare --net`), so nothing reaches another host.",
        "elb runs at the library defaults (`TreeOptions::default()`): 4 MiB blocks and ranges, \
         32 requests in flight across files, the whole-content MD5 computed and stored on \
         upload and checked on download, and the automatic transactional checksum on every \
         block, which is CRC-64 at both endpoints. Azurite runs with `--loose`, because in \
         its default strict mode it rejects the CRC-64 header, and elb would fall back to an \
         MD5 per block. Loose Azurite accepts the header without checking it.",
        "azcopy tuned: `AZCOPY_CONCURRENCY_VALUE=32`, `--block-size-mb=8`, \
         `--check-length=false`, `--log-level=ERROR`, and an open pipe as stdin. At its \
         defaults, stdin is `/dev/null` as in ElasticBLAST, and azcopy 10.32.2 then spins one \
         core. Both exit only on a 2-second progress tick, which sets a floor on every azcopy \
         run.",
        "The Python SDK (benches/python/sdk_contender.py): 8 MiB blocks, single-request \
         uploads up to 64 MiB, 8 MiB download chunks, a pool of 64 connections, and a thread \
         pool over files that shares 32 requests in flight.",
        "curl is the ceiling: no listing, no checksums, one request per file (the 1 GiB file \
         is one `Put Blob` and one `Get Blob`), 32 transfers in parallel.",
        "The in-memory endpoint runs inside the harness process and shares the CPUs with \
         the client being measured, as Azurite does.",
    ] {
        line(page, format!("- {item}"));
    }
}
