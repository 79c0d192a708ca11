"""Turning one run's figures into the table, the target verdicts, the JSON and the chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import ratio

# The targets, checked by reading a run (never by a timed test).
CEILING_SHARE = 0.85
BASELINE_FACTOR = 8.0
BULK_ALERT_FACTOR = 1.5
BURST_FACTOR = 3.0
MEMORY_GROWTH_MB = 50.0
PARSE_ROWS_PER_S = 300_000
DASHBOARD_P95_S = 0.300
DASHBOARD_GROWTH = 1.5  # the largest size's p95 against the smallest's
# The bound on the loader's peak for any file shape up to the size limit.
LOADER_MEMORY_LIMIT_MB = 256


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right-aligned."""
    widths = [len(header) for header in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, not {len(headers)}")
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        padded = [first.ljust(widths[0])]
        padded += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what it asks, the figure reached, and whether it was met."""
    checks: list[dict[str, Any]] = []
    loads = results.get("loads", [])
    if loads:
        largest = max(loads, key=lambda entry: entry["rows"])
        project = largest["project"]["rows_per_s"]
        of_ceiling = ratio(project, largest["ceiling"]["rows_per_s"])
        of_baseline = ratio(project, largest["baseline"]["rows_per_s"])
        at = f"{largest['rows']:,} rows"
        checks.append(
            _check(
                f"load_inventory >= {CEILING_SHARE:.0%} of the ceiling at {at}",
                of_ceiling,
                f"{of_ceiling:.0%}" if of_ceiling is not None else "-",
                of_ceiling is not None and of_ceiling >= CEILING_SHARE,
            )
        )
        checks.append(
            _check(
                f"load_inventory >= {BASELINE_FACTOR:.0f}x the baseline loader at {at}",
                of_baseline,
                times(of_baseline),
                of_baseline is not None and of_baseline >= BASELINE_FACTOR,
            )
        )
        last_alert = largest["project"].get("last_alert_s")
        bulk = ratio(last_alert, largest["project"]["seconds"]) if last_alert else None
        checks.append(
            _check(
                f"last alert within {BULK_ALERT_FACTOR}x the last row loaded at {at}",
                bulk,
                times(bulk),
                bulk is not None and bulk <= BULK_ALERT_FACTOR,
            )
        )
    burst = results.get("burst")
    if burst:
        checks.append(
            _check(
                f"a burst of {burst['burst']['files']:,} files: last alert within "
                f"{BURST_FACTOR:.0f}x one file of the same rows",
                burst["ratio"],
                times(burst["ratio"]),
                burst["ratio"] is not None and burst["ratio"] <= BURST_FACTOR,
            )
        )
    latency = results.get("latency")
    if latency:
        for key in ("p50", "p95"):
            project = latency["project"]["queued"][key]
            baseline = latency["baseline"]["queued"][key]
            checks.append(
                _check(
                    f"alert latency {key} no worse than the baseline pair's",
                    project,
                    f"{project:.3f}s vs {baseline:.3f}s",
                    project <= baseline,
                )
            )
    memory = results.get("memory")
    if memory:
        checks.append(
            _check(
                f"peak growth < {MEMORY_GROWTH_MB:.0f} MB over {memory['rows']:,} rows",
                memory["growth_mb"],
                f"{memory['growth_mb']:.1f} MB",
                memory["growth_mb"] < MEMORY_GROWTH_MB,
            )
        )
        if "worst_peak_mb" in memory:
            checks.append(
                _check(
                    f"the loader's peak < {LOADER_MEMORY_LIMIT_MB} MB over every hostile shape",
                    memory["worst_peak_mb"],
                    f"{memory['worst_peak_mb']:.1f} MB ({memory['worst']})",
                    memory["worst_peak_mb"] < LOADER_MEMORY_LIMIT_MB,
                )
            )
        checks.append(
            _check(
                f"parse and validate >= {PARSE_ROWS_PER_S:,} rows/s in-process",
                memory["rows_per_s"],
                f"{memory['rows_per_s']:,.0f} rows/s",
                memory["rows_per_s"] >= PARSE_ROWS_PER_S,
            )
        )
    checks += dashboard_verdicts(results.get("dashboard") or {})
    return checks


def dashboard_verdicts(found: dict[str, Any]) -> list[dict[str, Any]]:
    """p95 of each request at the largest size: under DASHBOARD_P95_S, and at most
    DASHBOARD_GROWTH times the smallest size's."""
    sizes = sorted(found.get("sizes", {}), key=int)
    if not sizes:
        return []
    smallest, largest = found["sizes"][sizes[0]], found["sizes"][sizes[-1]]
    at = f"{int(sizes[-1]):,} items"
    checks = []
    for name, label in (("summary", "GET /summary"), ("items", "GET /items")):
        p95 = largest[name]["p95"]
        checks.append(
            _check(
                f"{label} p95 <= {DASHBOARD_P95_S * 1000:.0f} ms at {at}",
                p95,
                f"{p95 * 1000:.0f} ms",
                p95 <= DASHBOARD_P95_S,
            )
        )
        if len(sizes) > 1:
            growth = ratio(p95, smallest[name]["p95"])
            checks.append(
                _check(
                    f"{label} p95 at {at} <= {DASHBOARD_GROWTH}x at {int(sizes[0]):,}",
                    growth,
                    times(growth),
                    growth is not None and growth <= DASHBOARD_GROWTH,
                )
            )
    return checks


def _check(target: str, value: float | None, shown: str, met: bool) -> dict[str, Any]:
    return {"target": target, "value": value, "reached": shown, "met": met}


def render(results: dict[str, Any]) -> str:
    """The whole run as text: machine, loads, alerts, memory, cost, targets."""
    machine = results["machine"]
    iam = "enforced" if machine.get("iam_enforced", True) else "not enforced"
    parts = [
        f"Benchmark {results['started']}  target: {results['target']}",
        f"machine: {machine['cpus']} CPUs, {machine['memory_gb']} GB, Python {machine['python']},"
        f" ministack {machine['ministack']} (IAM {iam}), load average"
        f" {machine['load_average_start']}"
        f" at the start and {machine.get('load_average_end', '-')} at the end",
    ]
    loads = results.get("loads", [])
    if loads:
        rows = []
        for entry in loads:
            project = entry["project"]
            rows.append(
                [
                    f"{entry['rows']:,}",
                    number(entry["ceiling"]["rows_per_s"]),
                    number(entry["baseline"]["rows_per_s"]),
                    number(project["rows_per_s"]),
                    f"{ratio(project['rows_per_s'], entry['ceiling']['rows_per_s']) or 0:.0%}",
                    times(ratio(project["rows_per_s"], entry["baseline"]["rows_per_s"])),
                    number(entry["baseline"]["seconds"], 2),
                    number(project["seconds"], 2),
                    number(project.get("last_alert_s"), 2),
                    number(entry["baseline"].get("last_alert_s"), 2),
                ]
            )
        parts += [
            "",
            "Ingest: rows/s from PutObject until the loader's invocation ended (the ceiling: "
            f"BatchWriteItem from {results['ceiling_threads']} threads as an IAM role, until the "
            "last write returned); every row then checked readable. Seconds to the last row "
            "and to the last alert",
            format_table(
                [
                    "rows",
                    "ceiling r/s",
                    "baseline r/s",
                    "project r/s",
                    "of ceiling",
                    "x baseline",
                    "baseline s",
                    "project s",
                    "proj. last alert s",
                    "base. last alert s",
                ],
                rows,
            ),
        ]
    if loads:
        largest = max(loads, key=lambda entry: entry["rows"])
        paused = largest.get("project_stream_paused")
        if paused:
            share = ratio(paused["rows_per_s"], largest["ceiling"]["rows_per_s"]) or 0
            parts += [
                "",
                f"Diagnostic: load_inventory with its stream consumer paused until the rows were "
                f"in: {paused['rows_per_s']:,.0f} rows/s at {largest['rows']:,} rows, {share:.0%} "
                "of the ceiling",
            ]
        doubled = {
            f"{name} at {entry['rows']:,} rows": entry[name]["duplicate_alerts"]
            for entry in loads
            for name in ("baseline", "project")
            if entry[name].get("duplicate_alerts")
        }
        parts += [
            "",
            "Alerts: every load's alerts arrived, one for each row at 0"
            + (
                "; duplicates: " + ", ".join(f"{count} ({run})" for run, count in doubled.items())
                if doubled
                else ", none twice"
            ),
        ]
        runs = [("ceiling", "ceiling"), ("baseline", "baseline"), ("project", "project")]
        runs.append(("project_stream_paused", "project, stream paused"))
        cpu_rows = [
            [label, number(largest[name].get("alerts_queued_s", largest[name]["seconds"]), 2)]
            + [number(largest[name]["cpu_s"].get(key), 1) for key in _CPU_COLUMNS]
            for name, label in runs
            if "cpu_s" in largest.get(name, {})
        ]
        if cpu_rows:
            parts += [
                "",
                f"CPU seconds used during the {largest['rows']:,}-row runs, from the upload to the "
                "last alert queued (wall seconds beside)",
                format_table(["run", "wall s", *_CPU_COLUMNS], cpu_rows),
            ]
    late = results.get("late_file")
    if late:
        parts += [
            "",
            f"Late file: an older snapshot of {late['rows']:,} rows delivered again after a newer"
            f" one, every row a conditional PutItem (all {late['late']['rows_superseded']:,}"
            f" refused): {late['late']['rows_per_s']:,.0f} rows/s, against"
            f" {late['newer']['rows_per_s']:,.0f} rows/s for the same rows as the newest snapshot"
            f" ({late['share_of_newest'] or 0:.0%})",
        ]
    burst = results.get("burst")
    if burst:
        many, one = burst["burst"], burst["one_file"]
        parts += [
            "",
            f"Burst: {many['files']:,} files of 100 rows from 50 stores, uploaded in"
            f" {many['uploaded_s']:.1f}s ({'within' if many.get('within_window', True) else 'over'}"
            f" {burst['window_s']:.0f}s), against the same"
            f" {many['rows']:,} rows in one file; seconds from the first upload to the last alert",
            format_table(
                ["upload", "last alert s", "alerts", "duplicates"],
                [
                    [name, number(run.get("last_alert_s"), 2), f"{run['alerts']:,}"]
                    + [str(run.get("duplicate_alerts", 0))]
                    for name, run in (("burst", many), ("one file", one))
                ],
            ),
            f"ratio: {times(burst['ratio'])}",
        ]
    late_ones = results.get("overdue", [])
    if late_ones:
        parts += [
            "",
            "Over their deadline (recorded, the run went on)",
            format_table(
                ["measurement", "over", "reached"],
                [[o["section"], f"over {o['over_s']:.0f} s", o["reached"]] for o in late_ones],
            ),
        ]
    shares = results.get("emulator_profile", {}).get("shares")
    if shares:
        parts += [
            "",
            f"Emulator CPU by handler (py-spy) during {results['emulator_profile']['during']}",
            format_table(["where", "share"], [[name, f"{share:.1%}"] for name, share in shares]),
        ]
    latency = results.get("latency")
    if latency:
        rows = []
        for name in ("project", "baseline"):
            queued = latency[name]["queued"]
            received = latency[name]["received"]
            rows.append(
                [
                    name,
                    str(queued["n"]),
                    f"{queued['p50']:.3f}",
                    f"{queued['p95']:.3f}",
                    f"{queued['max']:.3f}",
                    f"{received['p50']:.3f}",
                    f"{latency[name]['cold']:.3f}",
                ]
            )
        parts += [
            "",
            "Alert latency, seconds from PutObject to the alert in the SQS queue "
            "(SentTimestamp); 'received' adds the long poll",
            format_table(["pair", "n", "p50", "p95", "max", "received p50", "first (cold)"], rows),
        ]
    memory = results.get("memory")
    if memory:
        parts += [
            "",
            f"Parsing and validation in-process, {memory['rows']:,} rows ({memory['file_mb']} MB):"
            f" {memory['rows_per_s']:,.0f} rows/s, peak RSS growth {memory['growth_mb']:.1f} MB,"
            f" peak Python allocations {memory['peak_traced_mb']:.1f} MB",
        ]
    if memory and "shapes" in memory:
        shapes = memory["shapes"]
        rows = [
            [name, f"{f['file_mb']:.1f}", f"{f['peak_mb']:.2f}", f"{f['report_kb']:.1f}"]
            for name, f in shapes.items()
        ]
        parts += [
            "",
            f"The loader over hostile file shapes (tracemalloc peak; worst: {memory['worst']}, "
            f"{memory['worst_peak_mb']:.1f} MB of the function's {LOADER_MEMORY_LIMIT_MB} MB)",
            format_table(["shape", "file MB", "peak MB", "report KB"], rows),
        ]
    cost = results.get("cost")
    if cost:
        rows = [
            [name, *(f"${cost[name]['monthly'][key]:,.2f}" for key in _COST_LINES)]
            for name in ("project", "baseline")
            if name in cost
        ]
        parts += [
            "",
            f"Cost a month on AWS of {cost['workload']}; us-east-1 on-demand prices of "
            f"{cost['prices']['as_of']}, free tiers left out",
            format_table(["pair", *_COST_LINES], rows),
        ]
    checks = results.get("targets", [])
    parts += dashboard_lines(results)
    if checks:
        note = (
            " (a quick run: small sizes; judge the targets on a full run)"
            if results.get("quick")
            else ""
        )
        parts += [
            "",
            f"Targets{note}",
            format_table(
                ["target", "reached", "met"],
                [[c["target"], c["reached"], "yes" if c["met"] else "NO"] for c in checks],
            ),
        ]
    return "\n".join(parts) + "\n"


def dashboard_lines(results: dict[str, Any]) -> list[str]:
    """The report's Dashboard section."""
    found = results.get("dashboard")
    if not found:
        return []
    if found.get("skipped"):
        return ["", f"Dashboard: skipped ({found['skipped']})"]
    rows = []
    for size, figures in found["sizes"].items():
        for name, label in (("summary", "GET /summary"), ("items", "GET /items (first 100)")):
            got = figures[name]
            rows.append(
                [f"{int(size):,}", label, f"{got['p50'] * 1000:.0f}", f"{got['p95'] * 1000:.0f}"]
            )
    parts = [
        "",
        "Dashboard (signed in through Cognito; tables seeded directly)",
        format_table(["items", "request", "p50 ms", "p95 ms"], rows),
    ]
    if "first_screen_s" in found:
        screen = found["first_screen_s"]
        parts.append(
            f"First screen in Chromium at {found['first_screen_items']:,} items: "
            f"p50 {screen['p50']:.2f} s, max {screen['max']:.2f} s ({screen['n']} runs)"
        )
    return parts


_CPU_COLUMNS = ("emulator", "load worker", "check worker")
_COST_LINES = ("lambda", "dynamodb", "s3", "sns", "sqs", "logs", "total")


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def draw_chart(results: dict[str, Any], path: Path) -> None:
    """Rows/s by file size for the three writers; the alert latency of both pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure, (loads_axis, latency_axis) = plt.subplots(1, 2, figsize=(12, 4.8))
    loads = results.get("loads", [])
    sizes = [entry["rows"] for entry in loads]
    for name, style in (("ceiling", "k^--"), ("project", "o-"), ("baseline", "s-")):
        loads_axis.plot(
            sizes, [entry[name]["rows_per_s"] for entry in loads], style, label=name, markersize=5
        )
    loads_axis.set_xscale("log")
    loads_axis.set_yscale("log")
    loads_axis.set_xticks(sizes, [f"{size:,}" for size in sizes])
    loads_axis.xaxis.set_minor_formatter(NullFormatter())
    loads_axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    loads_axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    loads_axis.yaxis.set_minor_formatter(NullFormatter())
    loads_axis.set_xlabel("rows in the file")
    loads_axis.set_ylabel("rows/s, upload to the loader's end")
    loads_axis.set_title("Ingest")
    loads_axis.grid(True, which="both", alpha=0.3)
    loads_axis.legend()

    latency = results.get("latency")
    if latency:
        names = ["project", "baseline"]
        samples = [latency[name]["samples_queued_s"] for name in names]
        latency_axis.boxplot(samples, tick_labels=names, whis=(5, 95), showfliers=True)
        for position, values in enumerate(samples, start=1):
            latency_axis.scatter(
                [position + 0.18] * len(values), values, s=8, alpha=0.5, color="tab:blue"
            )
        latency_axis.set_ylabel("seconds, PutObject to the alert in the queue")
        latency_axis.set_title(f"Alert latency ({len(samples[0])} uploads a pair)")
        latency_axis.grid(True, axis="y", alpha=0.3)
    machine = results["machine"]
    figure.suptitle(
        f"{results['started']}: {machine['cpus']} CPUs, Python {machine['python']}, "
        f"ministack {machine['ministack']}",
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
