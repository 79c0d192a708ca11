"""python -m bench [--quick] [--endpoint URL|aws] [--sizes N ...]

Measures, in one run on one target: the emulator's own BatchWriteItem ceiling, the lab-style
baseline loader and the project's load_inventory (files of 1,000, 10,000 and 100,000 rows);
alert latency of both function pairs; the bulk alerts of each file; memory and speed of the
parsing path in-process; and what seed 001's load would cost a month on AWS. Progress goes to
stderr, the table to stdout, the raw figures (JSON) and a chart (PNG) to bench-results/.

With no --endpoint it starts a fresh MiniStack on a free port and stops it at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import burst, cost, dashboard, measure, memory, profile, report, stacks, stats
from bench.data import InventoryFile
from bench.stacks import Target
from provision import deploy
from provision.aws import Aws, Changes
from provision.emulator import (
    MiniStack,
    enforce_iam_from_environment,
    free_port,
    stop_process,
    wait_healthy,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
FULL_SIZES = [1_000, 10_000, 100_000]
# Seed 001's claim: 10,000 files a day of about 100 rows each.
SEED_FILES_PER_DAY = 10_000
SEED_ROWS_PER_FILE = 100


class Progress:
    """Timestamped progress lines on stderr."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, line: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {line}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (CI)")
    parser.add_argument("--endpoint", help="a running emulator's URL, or 'aws' for real AWS")
    parser.add_argument("--sizes", type=int, nargs="+", help="rows per file (multiples of 50)")
    parser.add_argument("--latency-samples", type=int, help="uploads per pair (default 30)")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between uploads")
    parser.add_argument("--cost-files", type=int, help="100-row files per pair for the cost (10)")
    parser.add_argument("--late-rows", type=int, help="rows of the late-file measurement (10,000)")
    parser.add_argument("--memory-rows", type=int, help="rows of the memory file (1,000,000)")
    parser.add_argument("--burst-files", type=int, help="100-row files of the burst (1,000)")
    parser.add_argument("--burst-window", type=float, default=60, help="seconds to upload them in")
    parser.add_argument("--timeout", type=float, default=900, help="deadline of each wait")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where figures and chart go")
    parser.add_argument("--repeats", type=int, help="runs of the ceiling and project (best counts)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the emulator during the largest project load; pyinstrument the parsing",
    )
    parser.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="skip the diagnostic load with the stream consumer paused",
    )
    parser.add_argument(
        "--stream-batch-size", type=int, help="override the project's stream batch (experiments)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the stacks in place")
    parser.add_argument(
        "--no-dashboard",
        dest="dashboard",
        action="store_false",
        help="skip the Dashboard section (a stack seeded with up to 100,000 items)",
    )
    parser.add_argument(
        "--dashboard-sizes", type=int, nargs="+", help="items of the Dashboard section's sizes"
    )
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([1_000] if args.quick else FULL_SIZES)
    args.dashboard_sizes = args.dashboard_sizes or ([1_000] if args.quick else FULL_SIZES)
    args.latency_samples = args.latency_samples or (5 if args.quick else 30)
    args.repeats = args.repeats or (1 if args.quick else 2)
    args.cost_files = args.cost_files or (3 if args.quick else 10)
    args.late_rows = args.late_rows or (1_000 if args.quick else 10_000)
    args.burst_files = args.burst_files or (50 if args.quick else 1_000)
    args.memory_rows = args.memory_rows or (100_000 if args.quick else 1_000_000)
    bad = [size for size in [*args.sizes, args.late_rows] if size <= 0 or size % 50]
    if bad:
        parser.error(f"--sizes must be positive multiples of 50 (50 stores): {bad}")
    return args


@contextlib.contextmanager
def emulator(endpoint: str | None, say: Progress) -> Iterator[tuple[str | None, int | None]]:
    """The target's endpoint (None: real AWS) and the local emulator's pid, if one was started."""
    if endpoint == "aws":
        os.environ.pop("AWS_ENDPOINT_URL", None)
        yield None, None
        return
    for key, value in EMULATOR_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    if endpoint:
        yield endpoint, None
        return
    workdir = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    # IAM checks on, as `make up` and the tests run it, unless ENFORCE_IAM=false.
    ministack = MiniStack(free_port(), workdir, enforce_iam_from_environment())
    process = ministack.spawn()
    try:
        wait_healthy(ministack.endpoint, 60, process, ministack.log)
        say(f"MiniStack started on {ministack.endpoint} (pid {process.pid})")
        yield ministack.endpoint, process.pid
    finally:
        stop_process(process.pid)
        shutil.rmtree(workdir, ignore_errors=True)
        say("MiniStack stopped")


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(total_kb / 2**20, 1),
        "python": platform.python_version(),
        "ministack": importlib.metadata.version("ministack"),
        "iam_enforced": enforce_iam_from_environment(),
        "platform": platform.platform(),
        "load_average_start": _load_average(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain")),
    }


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _git(*args: str) -> str:
    """Read-only git queries, for the record of what was measured."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip()


def run(args: argparse.Namespace, say: Progress) -> dict[str, Any]:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = started.replace(":", "").replace("-", "")
    results: dict[str, Any] = {
        "name": f"bench-{'quick-' if args.quick else ''}{stamp}",
        "started": started,
        "machine": machine(),
        "quick": args.quick,
        "settings": {
            "sizes": args.sizes,
            "repeats": args.repeats,
            "latency_samples": args.latency_samples,
            "spacing_s": args.spacing,
            "memory_rows": args.memory_rows,
            "cost_files": args.cost_files,
            "late_rows": args.late_rows,
            "burst_files": args.burst_files,
            "stream_batch_size": args.stream_batch_size,
        },
    }
    with emulator(args.endpoint, say) as (endpoint, pid):
        results["target"] = endpoint or "AWS"
        aws = deploy.connect(endpoint)
        meter = measure.CpuMeter(pid)
        run_id = uuid.uuid4().hex[:6]
        changes = Changes()
        say(f"deploying the project (bp-{run_id}) and the baseline (bl-{run_id})")
        project_stack, project = stacks.deploy_project(
            aws, f"bp-{run_id}", changes, args.stream_batch_size
        )
        baseline_stack, baseline = stacks.deploy_baseline(aws, f"bl-{run_id}", changes)
        ceiling = stacks.deploy_ceiling(aws, f"bc-{run_id}-ceiling", changes)
        results["stacks"] = {"project": project.as_dict(), "baseline": baseline.as_dict()}
        try:
            measure_everything(args, aws, meter, project, baseline, ceiling, results, say)
            if args.dashboard:
                samples = 10 if args.quick else 50
                results["dashboard"] = dashboard.measure(
                    aws, f"bd-{run_id}", args.dashboard_sizes, samples, not args.quick, say
                )
        finally:
            if args.keep:
                say("--keep: the stacks stay")
            else:
                say("removing the stacks")
                stacks.remove(aws, [project_stack, baseline_stack], ceiling, Changes())
    results["machine"]["load_average_end"] = _load_average()
    results["targets"] = report.verdicts(results)
    return results


def measure_everything(
    args: argparse.Namespace,
    aws: Aws,
    meter: measure.CpuMeter,
    project: Target,
    baseline: Target,
    ceiling: stacks.Ceiling,
    results: dict[str, Any],
    say: Progress,
) -> None:
    # 1-3: the ceiling, the baseline loader and load_inventory, size by size.
    calibration_rows = min(10_000, max(args.sizes))
    candidates = (2, 4, 8) if args.quick else (1, 2, 4, 8, 16)
    threads = 4  # if calibrating runs over its deadline
    with overdue(results, "ceiling calibration", args.timeout, say):
        say(f"calibrating the ceiling's threads on {calibration_rows:,} rows")
        threads, rates = measure.calibrate_threads(
            ceiling.writer,
            aws,
            ceiling.table,
            calibration_rows,
            candidates,
            args.repeats,
            args.timeout,
            say,
        )
        results["ceiling_calibration"] = {str(count): rate for count, rate in rates.items()}
    results["ceiling_threads"] = threads
    # A first invocation starts the function's worker (an interpreter, boto3, Powertools):
    # one small file each first, so the ingest figures measure loading, not starting up.
    for target in (project, baseline):
        with overdue(results, f"{target.name} warm-up", args.timeout, say):
            warmup = InventoryFile(f"{target.prefix}-warmup", 50, zero_share=0)
            measure.upload_and_wait(
                aws, target, f"warmup/{warmup.prefix}.csv", warmup.csv_bytes(), args.timeout, say
            )
    results["loads"] = []
    for rows in args.sizes:
        with overdue(results, f"loads of {rows:,} rows", args.timeout, say):
            raw = args.out / f"{results['name']}-emulator.txt"
            entry = measure_size(
                args, aws, meter, (project, baseline, ceiling), threads, rows, raw, say
            )
            if "emulator_profile" in entry:
                results["emulator_profile"] = entry.pop("emulator_profile")
            results["loads"].append(entry)

    # What a late file (an older snapshot processed after a newer one) costs the project.
    with overdue(results, "late file", args.timeout, say):
        say(f"a late file of {args.late_rows:,} rows (an older snapshot after a newer one)")
        results["late_file"] = measure.measure_late_load(
            aws, project, args.late_rows, args.timeout, say
        )

    # A burst: every store's files at opening time, against the same rows in one file.
    with overdue(results, "burst", args.timeout, say):
        say(f"burst: {args.burst_files:,} files of 100 rows within {args.burst_window:.0f}s")
        measure.drain(aws, project.alerts_queue_url)
        results["burst"] = burst.measure_burst(
            aws, project, args.burst_files, args.burst_window, args.timeout, say
        )

    # 4: alert latency, the pairs taking turns.
    with overdue(results, "alert latency", args.timeout, say):
        say(f"alert latency: {args.latency_samples} uploads per pair, {args.spacing}s apart")
        for target in (project, baseline):
            measure.drain(aws, target.alerts_queue_url)
        latency = measure.measure_latency(
            aws, [project, baseline], args.latency_samples, args.spacing, args.timeout, say
        )
        results["latency"] = {
            name: {
                "queued": stats.summary(figures["queued_s"]),
                "received": stats.summary(figures["received_s"]),
                "cold": figures["cold"],
                "samples_queued_s": figures["queued_s"],
                "samples_received_s": figures["received_s"],
            }
            for name, figures in latency.items()
        }

    # 7: cost, from the invocations seed 001's files cause.
    with overdue(results, "cost", args.timeout, say):
        say(f"cost sample: {args.cost_files} files of 100 rows (10 out of stock) per pair")
        since, until = measure.measure_cost_sample(
            aws, [project, baseline], args.cost_files, args.spacing, args.timeout, say
        )
        say("reading the functions' REPORT lines for the cost model")
        results["cost"] = cost_of_seed_load(aws, [project, baseline], since, until, args.cost_files)

    # 6: memory, in fresh interpreters, no AWS.
    say(f"memory: parsing and validating {args.memory_rows:,} rows in-process")
    parse_profile = args.out / f"{results['name']}-parse.txt" if args.profile else None
    with tempfile.TemporaryDirectory(prefix="inventory-bench-memory-") as workdir:
        results["memory"] = memory.measure(
            args.memory_rows, Path(workdir), 1 if args.quick else 2, parse_profile
        )
    say("memory: the loader over each hostile file shape")
    results["memory"] |= memory.hostile_shapes()


@contextlib.contextmanager
def overdue(results: dict[str, Any], section: str, timeout: float, say: Progress) -> Iterator[None]:
    """Run one measurement; if it passes its deadline, record it as over `timeout` s with what
    it had reached, and let the run go on to the next one."""
    try:
        yield
    except measure.BenchTimeout as late:
        results.setdefault("overdue", []).append(
            {"section": section, "over_s": timeout, "reached": str(late)}
        )
        say(f"{section}: over {timeout:.0f}s ({late}); going on with the rest")


def measure_size(
    args: argparse.Namespace,
    aws: Aws,
    meter: measure.CpuMeter,
    targets: tuple[Target, Target, stacks.Ceiling],
    threads: int,
    rows: int,
    raw: Path,
    say: Progress,
) -> dict[str, Any]:
    """The ceiling, the baseline loader and load_inventory on files of `rows` rows (with
    --profile, py-spy's samples of the largest project load go to `raw`)."""
    project, baseline, ceiling = targets
    say(f"{rows:,} rows")
    entry: dict[str, Any] = {"rows": rows}
    for target in (project, baseline):
        measure.drain(aws, target.alerts_queue_url)
    entry["baseline"] = load(aws, meter, baseline, f"bl-r{rows}", rows, args, say)
    # The ceiling and the project take turns; the best of each counts (a busy machine
    # only ever slows a run down). The slow baseline runs once.
    ceilings, projects = [], []
    largest = max(args.sizes)
    for attempt in range(args.repeats):
        written: dict[str, Any] = {}
        with meter.measure(written):
            written |= measure.measure_ceiling(
                ceiling.writer,
                aws,
                ceiling.table,
                InventoryFile(f"cl-r{rows}-{attempt}", rows),
                threads,
                args.timeout,
            )
        say(
            f"  ceiling  {rows:>9,} rows: {written['seconds']:7.2f}s "
            f"{written['rows_per_s']:9,.0f} rows/s"
        )
        ceilings.append(written)
        profiling = args.profile and rows == largest and attempt == 0
        projects.append(
            load(
                aws,
                meter,
                project,
                f"pj-r{rows}-{attempt}",
                rows,
                args,
                say,
                profile.EmulatorProfile(meter.pid if profiling else None, raw),
            )
        )
        if profiling and raw.exists():
            with raw.open() as samples:
                entry["emulator_profile"] = {
                    "during": f"the project's load of {rows:,} rows until its last alert",
                    "raw": str(raw),
                    "shares": profile.summarise(samples),
                }
    entry["ceiling"] = best(ceilings)
    entry["project"] = best(projects)
    if rows == largest and args.isolate:
        # Diagnostic: the loader alone, its stream consumer paused until the rows are in.
        entry["project_stream_paused"] = load(
            aws, meter, project, f"pi-r{rows}", rows, args, say, pause_stream=True
        )
    return entry


def load(
    aws: Aws,
    meter: measure.CpuMeter,
    target: Target,
    prefix: str,
    rows: int,
    args: argparse.Namespace,
    say: Progress,
    spy: profile.EmulatorProfile | None = None,
    pause_stream: bool = False,
) -> dict[str, Any]:
    """One file through a pipeline, with the CPU used (and a profile) until its last alert."""
    before = meter.sample()
    cpu: dict[str, float] = {}

    def queued() -> None:
        cpu.update(meter.since(before))
        if spy is not None:
            spy.stop()

    try:
        figures = measure.measure_load(
            aws, target, InventoryFile(prefix, rows), args.timeout, say, queued, pause_stream
        )
    finally:
        if spy is not None:
            spy.stop()
    roles = {
        f"worker {target.load_function}": "load worker",
        f"worker {target.check_function}": "check worker",
    }
    if meter.pid is not None:
        figures["cpu_s"] = {roles.get(key, key): value for key, value in cpu.items()}
    return figures


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run's figures, with every run's kept beside them."""
    fastest = min(runs, key=lambda run: float(run["seconds"]))
    return fastest | {"runs": runs} if len(runs) > 1 else fastest


def cost_of_seed_load(
    aws: Aws, targets: list[Target], since: float, until: float, files: int
) -> dict[str, Any]:
    """Seed 001's load (10,000 files a day of 100 rows, 10% out of stock) a month, per pair.

    Counted, over the cost sample's `files` files of exactly that shape: Lambda invocations
    and billed time of both functions (their REPORT lines) and the bytes their logs took in.
    Derived per file from what the code does: one upload PUT; the loader's GET (the lab's
    download_file adds a HEAD) and the project's report PUT; one write unit a row (items
    under 1 KB), and for the project one more for its claim on the store and one read unit
    for its check of newer snapshots; per alert one SQS delivery, and a Publish (the lab) or
    a tenth of a PublishBatch (the project), and for the project a read unit (its lookup in
    the sent-alerts table) and a write unit (its note there). The lab's ListTopics is not
    billed by SNS.
    """
    prices = cost.Prices()
    alerts = round(SEED_ROWS_PER_FILE * 0.10)
    out: dict[str, Any] = {
        "workload": f"{SEED_FILES_PER_DAY:,} files/day of {SEED_ROWS_PER_FILE} rows, "
        f"{alerts} alerts each, 30 days",
        "prices": prices.as_dict(),
        "note": cost_of_seed_load.__doc__,
    }
    for target in targets:
        load = measure.invocations(aws, target.load_function, since, until, files, 60)
        check = measure.invocations(aws, target.check_function, since, until, files, 60)
        is_project = target.name == "project"
        per_file = cost.PerFile(
            s3_puts=2 if is_project else 1,
            s3_gets=1 if is_project else 2,
            write_units=SEED_ROWS_PER_FILE + (1 + alerts if is_project else 0),
            read_units=1 + alerts if is_project else 0,
            lambda_requests=(load["invocations"] + check["invocations"]) / files,
            lambda_gb_seconds=(
                cost.gb_seconds(load["billed_ms"], target.load_memory_mb)
                + cost.gb_seconds(check["billed_ms"], target.check_memory_mb)
            )
            / files,
            sns_publishes=cost.publish_requests(alerts, batched=is_project),
            sqs_requests=alerts,
            log_bytes=(load["log_bytes"] + check["log_bytes"]) / files,
        )
        out[target.name] = {
            "counted": {
                "files": files,
                "load_invocations": load["invocations"],
                "load_billed_ms": load["billed_ms"],
                "check_invocations": check["invocations"],
                "check_billed_ms": check["billed_ms"],
                "log_bytes": load["log_bytes"] + check["log_bytes"],
            },
            "per_file": per_file.as_dict(),
            "monthly": cost.monthly(per_file, SEED_FILES_PER_DAY, prices),
        }
    return out


class Stopped(Exception):
    """SIGTERM or SIGINT: the run ends, and its emulator and Lambda workers with it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise Stopped, so every `finally` on the way out runs (the one that
    stops the emulator's process group, workers included); a second signal while they run is
    ignored, so the cleanup itself is not cut short."""

    def stop(signum: int, _frame: object) -> None:
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {each: signal.signal(each, stop) for each in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    say = Progress()
    try:
        with stopped_by_signals():
            results = run(args, say)
    except Stopped as stopped:
        say(f"stopped by {stopped}; the emulator and its workers are stopped")
        return 128 + stopped.signum
    text = report.render(results)
    name = results["name"]
    report.write_json(results, args.out / f"{name}.json")
    (args.out / f"{name}.txt").write_text(text)
    report.draw_chart(results, args.out / f"{name}.png")
    for suffix in ("json", "txt", "png"):
        shutil.copyfile(args.out / f"{name}.{suffix}", args.out / f"latest.{suffix}")
    print(text)
    say(f"figures: {args.out / name}.json, chart: {args.out / name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
