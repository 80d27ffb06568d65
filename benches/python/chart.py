"""Draw the benchmark chart from the harness's results.json.

Usage: chart.py RESULTS_JSON OUTPUT_PNG

One row of panels per endpoint and one panel per workload and direction. Each panel shows
every contender's median speed as a bar, with the min-max spread of the repetitions as an
error bar. Large workloads are in MiB/s, the results prefix in files/s, and the single
small file in milliseconds per run (lower is better).
"""

from __future__ import annotations

import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024 * 1024
CONTENDERS = ["Elb", "AzcopyTuned", "AzcopyDefault", "Python", "Curl"]
LABELS = {
    "Elb": "elb",
    "AzcopyTuned": "azcopy tuned",
    "AzcopyDefault": "azcopy default",
    "Python": "Python SDK",
    "Curl": "curl",
}
COLORS = {
    "Elb": "#1f77b4",
    "AzcopyTuned": "#ff7f0e",
    "AzcopyDefault": "#ffbb78",
    "Python": "#2ca02c",
    "Curl": "#7f7f7f",
}


def speed(cell: dict, sample: dict) -> float:
    """Return one repetition's speed in the unit of the cell's workload."""
    if cell["workload"] == "tiny":
        return sample["wall_s"] * 1000.0
    if cell["workload"] == "results":
        return cell["files"] / sample["wall_s"]
    return cell["bytes"] / MIB / sample["wall_s"]


def unit(workload: str) -> str:
    return {"tiny": "ms per run (lower is better)", "results": "files/s"}.get(workload, "MiB/s")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as source:
        results = json.load(source)
    cells = results["cells"]
    endpoints = list(dict.fromkeys(cell["endpoint"] for cell in cells))
    workloads = [name for name, _ in results["workloads"]]
    panels = [(workload, direction) for workload in workloads for direction in ("Upload", "Download")]
    if not endpoints or not panels:
        print("results.json has no cells to draw", file=sys.stderr)
        return 1

    figure, axes = plt.subplots(
        len(endpoints), len(panels), figsize=(2.3 * len(panels), 3.2 * len(endpoints)), squeeze=False
    )
    for row, endpoint in enumerate(endpoints):
        for column, (workload, direction) in enumerate(panels):
            axis = axes[row][column]
            names, medians, lower, upper, colors = [], [], [], [], []
            for contender in CONTENDERS:
                match = [
                    cell
                    for cell in cells
                    if cell["endpoint"] == endpoint
                    and cell["workload"] == workload
                    and cell["direction"] == direction
                    and cell["contender"] == contender
                ]
                if not match or not match[0]["samples"]:
                    continue
                values = [speed(match[0], sample) for sample in match[0]["samples"]]
                median = statistics.median(values)
                names.append(LABELS[contender])
                medians.append(median)
                lower.append(median - min(values))
                upper.append(max(values) - median)
                colors.append(COLORS[contender])
            positions = range(len(names))
            axis.bar(positions, medians, color=colors, yerr=[lower, upper], capsize=2)
            axis.set_xticks(list(positions), names, rotation=60, ha="right", fontsize=7)
            axis.tick_params(axis="y", labelsize=7)
            axis.set_title(f"{endpoint}: {workload} {direction.lower()}", fontsize=8)
            axis.set_ylabel(unit(workload), fontsize=7)
    smoke = " (smoke sizes)" if results.get("smoke") else ""
    figure.suptitle(f"elb benchmark{smoke}, {results['date']}, median and min-max", fontsize=10)
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
