"""How the viewer scales: a small folder against a large one, side by side; and report.html's size.

Usage: python scripts/bench_viewer.py [--large 10000] [--sizes 16 1024 10000] [--rounds 3] [--work DIR]

1. Runs one real small batch (``dask-runner simulate``, SimplePlanner and IDMPlanner on 8 generated
   scenarios, sequential worker: 16 runners) into ``--work``.
2. Synthesises a folder of ``--large`` runners from it: the batch's report rows, metric files and simulation
   logs replicated under new runner ids and scenario names (the logs are hard links), so the large folder
   is real files in the real layout, with the small batch's contents repeated. (It is not a 10,000-scenario
   simulation: what the viewer's cost depends on is the number of runners and files, not their contents.)
3. For each folder, ``--rounds`` times: starts ``dask-runner view`` as a user does and times, from the
   process's start, the first page (the address printed, then the overview and the first page of the
   scenario table over HTTP), then one replay; once with no index file (the first open of a folder: every
   metric file is read) and then with it (every later open, and every open of a folder whose job wrote
   report.html). Prints the medians and the large/small ratios.
4. With ``--sizes``, writes report.html for folders of those sizes (synthesised the same way) and prints
   each file's size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL_BATCH = ["planner=[simple_planner,idm_planner]", "worker=sequential", "scenario_filter.limit_total_scenarios=8",
               "show_progress=false", "html_report=false"]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                PYTHONUNBUFFERED="1")


def run_small_batch(folder: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dask_runner.cli", "simulate", f"output_dir={folder}", *SMALL_BATCH],
                          env=_env(), cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the small batch failed:\n{done.stderr[-3000:]}")


def synthesise(source: Path, target: Path, runners: int) -> None:
    """``target``: ``runners`` runners made of ``source``'s, repeated under new ids and scenario names."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dask_runner.metrics.metric_aggregation import aggregate_metrics
    from dask_runner.metrics.metric_file import metric_schema
    from dask_runner.simulation.simulation_log import safe_file_name

    reports = pd.read_parquet(source / "runner_report.parquet")
    metrics = aggregate_metrics(source / "metrics")
    types = metrics.drop_duplicates("runner_id").set_index("runner_id")["scenario_type"]
    rows, copies = [], -(-runners // len(reports))
    target.mkdir(parents=True)
    shutil.copy(source / "config.yaml", target / "config.yaml")
    logs = {p.relative_to(source / "simulation_logs"): p for p in (source / "simulation_logs").rglob("*.msgpack.zst")}
    for copy in range(copies):
        for report in reports.itertuples(index=False):
            if len(rows) == runners:
                break
            runner_id, scenario = f"{report.runner_id}-{copy:05d}", f"{report.scenario_name}-{copy:05d}"
            rows.append({**report._asdict(), "runner_id": runner_id, "scenario_name": scenario})
            scenario_type = str(types[report.runner_id])
            own = metrics[metrics["runner_id"] == report.runner_id].assign(runner_id=runner_id, scenario_name=scenario)
            folder = target / "metrics" / safe_file_name(report.planner_name) / safe_file_name(scenario_type)
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pandas(own, schema=metric_schema(), preserve_index=False),
                           folder / f"{safe_file_name(scenario)}.{safe_file_name(runner_id)}.parquet")
            relative = (Path(safe_file_name(report.planner_name)) / safe_file_name(scenario_type)
                        / safe_file_name(report.log_name) / f"{safe_file_name(report.scenario_name)}.msgpack.zst")
            link = target / "simulation_logs" / relative.parent / f"{safe_file_name(scenario)}.msgpack.zst"
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(logs[relative], link)
    pd.DataFrame(rows).to_parquet(target / "runner_report.parquet", index=False)


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=600) as response:
        return json.loads(response.read())


def time_viewer(folder: Path) -> tuple[float, float]:
    """(seconds from starting `dask-runner view` to the overview and first table page, seconds for one replay)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "dask_runner.cli", "view", str(folder)], env=_env(), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not match:
            raise SystemExit(f"dask-runner view printed {line!r}{process.stdout.read()[-2000:]}")
        url = match.group(0)
        urllib.request.urlopen(url, timeout=600).read()
        _get(url + "api/runs")
        page = _get(url + "api/runs/0/scenarios?sort=score&offset=0&limit=50&filters=%7B%7D")
        first_page = time.perf_counter() - start
        runner = page["rows"][0][0]  # type: ignore[index]
        start = time.perf_counter()
        replay = _get(url + f"api/runs/0/replay?id={urllib.request.quote(runner)}")
        if "unavailable" in replay:  # type: ignore[operator]
            raise SystemExit(f"replay unavailable: {replay}")
        return first_page, time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", type=int, default=10_000, help="runners in the large folder")
    parser.add_argument("--sizes", type=int, nargs="*", default=[16, 1024, 10_000], help="report.html sizes of")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_viewer-"))
    small = work / "small"
    if not small.is_dir():
        run_small_batch(small)
    from dask_runner.viewer.scenario_index import INDEX_FILE

    folders = {"small": small}
    for n in sorted({args.large, *args.sizes} - {16}):
        folder = work / f"runners-{n}"
        if not folder.is_dir():
            started = time.perf_counter()
            synthesise(small, folder, n)
            print(f"synthesised {n} runners in {time.perf_counter() - started:.1f} s", flush=True)
        folders[str(n)] = folder
    large = folders[str(args.large)]
    print(f"viewer, {args.rounds} round(s); small: 16 runners, large: {args.large} runners")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_number in range(args.rounds):
        for label, folder in (("small", small), ("large", large)):
            for state in ("no index file", "index file"):
                if state == "no index file":
                    (folder / "aggregator_metric" / INDEX_FILE).unlink(missing_ok=True)
                first, replay = time_viewer(folder)
                results.setdefault((label, state), []).append((first, replay))
                print(f"  round {round_number + 1}  {label:5}  {state:13}  first page {first:6.2f} s  "
                      f"replay {replay * 1000:6.0f} ms", flush=True)
    print("medians:")
    for state in ("no index file", "index file"):
        medians = {label: (statistics.median(r[0] for r in results[(label, state)]),
                           statistics.median(r[1] for r in results[(label, state)])) for label in ("small", "large")}
        print(f"  {state:13}  first page small {medians['small'][0]:.2f} s, large {medians['large'][0]:.2f} s: "
              f"ratio {medians['large'][0] / medians['small'][0]:.2f}; one replay small "
              f"{medians['small'][1] * 1000:.0f} ms, large {medians['large'][1] * 1000:.0f} ms: "
              f"ratio {medians['large'][1] / medians['small'][1]:.2f}")
    if args.sizes:
        from dask_runner.report.html_report import write_html_report

        for n in args.sizes:
            folder = small if n == 16 else folders[str(n)]
            started = time.perf_counter()
            path = write_html_report(folder)
            print(f"report.html of {n} runners: {path.stat().st_size / 1e6:.2f} MB "
                  f"(written in {time.perf_counter() - started:.1f} s)", flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
