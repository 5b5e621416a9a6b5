"""The ``dask-runner`` command: simulate, metrics, report, view and fetch-data.

``simulate`` and ``metrics`` take nuPlan-style Hydra overrides (``planner=simple_planner
worker=sequential``). Errors print one line and exit non-zero: 2 for usage and configuration errors,
1 when runners failed (unless ``allow_failures=true``) or the job could not finish, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EPILOG = """examples:
  dask-runner simulate planner=simple_planner worker=sequential exit_on_failure=true
  dask-runner simulate worker=single_machine_thread_pool worker.max_workers=4
  dask-runner simulate worker=dask_local scenario_filter.limit_total_scenarios=4
  dask-runner simulate output_dir=output/my_run resume=true
  dask-runner metrics simulation_log_dir=output/simulation/<timestamp>/simulation_logs
  dask-runner report output/simulation/<timestamp>
  dask-runner report RUN_A RUN_B        # report.html of RUN_B, with its score changes against RUN_A
  dask-runner view output/simulation/<timestamp> [OTHER_RUN ...]
  dask-runner fetch-data
"""


def _print_config(config_name: str, overrides: Sequence[str]) -> int:
    from omegaconf import OmegaConf

    from dask_runner.experiment.config_loading import compose_config

    print(OmegaConf.to_yaml(compose_config(config_name, overrides), resolve=True), end="")
    return EXIT_OK


def _run_job(kind: str, overrides: Sequence[str], show_config: bool) -> int:
    from dask_runner.experiment.config_loading import METRIC_CONFIG, SIMULATION_CONFIG, compose_config

    config_name = SIMULATION_CONFIG if kind == "simulate" else METRIC_CONFIG
    if show_config:
        return _print_config(config_name, overrides)
    cfg = compose_config(config_name, overrides)
    if kind == "simulate":
        from dask_runner.experiment.simulation_job import run_simulation_job

        result = run_simulation_job(cfg)
    else:
        from dask_runner.experiment.metric_job import run_metric_job

        result = run_metric_job(cfg)
    code = result.exit_code(bool(cfg.allow_failures))
    if code != EXIT_OK:
        print(f"error: {result.num_failed} of {len(result.reports)} runners failed (pass allow_failures=true "
              "to exit with status 0 anyway)", file=sys.stderr)
        if result.num_to_rerun:
            print(f"{result.num_to_rerun} of them had no worker (stage no_workers): run the same command with "
                  f"resume=true output_dir={result.output_dir} to run them", file=sys.stderr)
    return code


def _report(output_dirs: Sequence[str], max_scenario_plots: int | None, max_mb: float) -> int:
    from dask_runner.errors import OutputDirError
    from dask_runner.report.html_report import write_html_report

    for folder in output_dirs:
        root = Path(folder)
        if not (root / "runner_report.parquet").is_file() and not (root / "reports").is_dir():
            raise OutputDirError(f"{root} holds no dask_runner results (no runner_report.parquet or reports/); "
                                 "pass the output folder of a simulate or metrics run")
    *earlier, root_dir = output_dirs
    path = write_html_report(Path(root_dir), max_scenario_plots=max_scenario_plots,
                             compare_with=[Path(f) for f in earlier], max_bytes=int(max_mb * 1e6))
    print(path)
    return EXIT_OK


def _view(output_dirs: Sequence[str], port: int | None) -> int:
    from dask_runner.viewer.server import serve

    try:
        serve(output_dirs, port)
    except KeyboardInterrupt:
        print("viewer stopped", file=sys.stderr)
    return EXIT_OK


def _fetch_data(argv: Sequence[str]) -> int:
    from dask_runner.scenarios.data_fetch import main as fetch_main

    return fetch_main(list(argv))


def _train(argv: Sequence[str]) -> int:
    from dask_runner.experiment.train_command import main as train_main

    return train_main(list(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dask-runner", description="Batches of closed-loop driving simulations and their metrics on Dask.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in (("simulate", "run simulations (and their metrics) with Hydra overrides"),
                            ("metrics", "recompute metrics from saved simulation logs (simulation_log_dir=...)")):
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog="overrides are key=value (Hydra syntax), e.g. planner=simple_planner "
                                  "worker=sequential; --cfg prints the composed config")
        sub.add_argument("--cfg", action="store_true", help="print the composed config and exit")
        sub.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides")
    report = commands.add_parser("report", help="(re)write report.html of an output folder (RUN_A RUN_B: "
                                 "RUN_B's, with the score changes from RUN_A)")
    report.add_argument("output_dirs", nargs="+", metavar="OUTPUT_DIR",
                        help="the output folder of a simulate or metrics run; with two, the report is written in "
                             "the last and compares it with the first")
    report.add_argument("--max-scenario-plots", type=int, default=None,
                        help="scenarios drawn (default: report.html's own)")
    report.add_argument("--max-mb", type=float, default=10.0,
                        help="size the file stays under, by embedding fewer replays (default 10)")
    view = commands.add_parser("view", help="browse and replay the results of output folders in a local web viewer")
    view.add_argument("output_dirs", nargs="+", metavar="OUTPUT_DIR",
                      help="output folders; with several, the viewer also shows each one's score changes against "
                           "the first")
    view.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    fetch = commands.add_parser("fetch-data", help="download the real NGSIM CommonRoad scenarios", add_help=False)
    fetch.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the fetcher (--data-dir D, --force)")
    train = commands.add_parser("train", help="train planner=ml_planner (dask-runner train --help)", add_help=False)
    train.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the trainer")
    return parser


def _guarded(action: Callable[[], int]) -> int:
    """Run a command; our errors become one line on stderr and an exit status."""
    from dask_runner.errors import (
        ConfigError,
        DaskRunnerError,
        NothingToRun,
        OutputDirError,
        ResourceUnavailableError,
        ScenarioError,
        SimulationFailedError,
    )

    try:
        return action()
    except NothingToRun as exc:  # a job script printed, or a SLURMRunner rank that was not the driver
        if exc.output:
            print(exc.output, end="" if exc.output.endswith("\n") else "\n")
        logging.getLogger("dask_runner").info("%s", exc)
        return EXIT_OK
    except (ConfigError, OutputDirError, ResourceUnavailableError, ScenarioError) as exc:
        print(f"error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SimulationFailedError as exc:
        print(f"error: {_first_line(exc)} (exit_on_failure=true stopped the batch; the traceback is in "
              "runner_report.parquet and logs/)", file=sys.stderr)
        return EXIT_FAILED
    except DaskRunnerError as exc:
        print(f"error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug, ours or a plugin's: one line here, the traceback in the job's log file
        logging.getLogger("dask_runner").debug("Unexpected error", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}: {_first_line(exc)} (the traceback is in the output "
              "folder's logs/; rerun with verbose=true to see it here)", file=sys.stderr)
        if _verbose_requested():
            import traceback

            traceback.print_exc()
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted: finished runners are saved; continue with resume=true output_dir=<the same folder>",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _stop_on_sigterm() -> None:
    """SLURM ends a job at its walltime (or ``scancel``) with SIGTERM, and kills it KillWait seconds later: stop
    as on Ctrl-C in between, so the reports are consolidated and the worker jobs this driver submitted cancelled."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _verbose_requested() -> bool:
    return any(arg.lstrip("+") in ("verbose=true", "verbose=True") for arg in sys.argv[1:])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dask-runner`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if args_list and args_list[0] == "fetch-data":
        return _fetch_data(args_list[1:])
    if args_list and args_list[0] == "train":
        return _guarded(lambda: _train(args_list[1:]))
    args = parser.parse_args(args_list)
    logging.captureWarnings(True)
    if args.command in ("simulate", "metrics"):
        _stop_on_sigterm()
        return _guarded(lambda: _run_job(args.command, args.overrides, args.cfg))
    if args.command == "report":
        return _guarded(lambda: _report(args.output_dirs, args.max_scenario_plots, args.max_mb))
    if args.command == "view":
        return _guarded(lambda: _view(args.output_dirs, args.port))
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def simulate_main(argv: Sequence[str] | None = None) -> int:
    """``scripts/run_simulation.py [overrides]``: ``dask-runner simulate`` under nuPlan's script name."""
    return main(["simulate", *(sys.argv[1:] if argv is None else argv)])


def metrics_main(argv: Sequence[str] | None = None) -> int:
    """``scripts/run_metric.py [overrides]``: ``dask-runner metrics`` under nuPlan's script name."""
    return main(["metrics", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
