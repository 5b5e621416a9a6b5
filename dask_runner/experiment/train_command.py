"""``dask-runner train`` / ``scripts/train_ml_planner.py``: train the learned planner and write its checkpoint."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence

from dask_runner.experiment.training_job import train
from dask_runner.planners.ml.training import FIRST_TRAINING_SEED, TrainingSettings


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainingSettings()
    parser = argparse.ArgumentParser(
        prog="dask-runner train",
        description="Train planner=ml_planner by imitation of the generated scenarios' expert drives. Features "
                    "are extracted on a local Dask cluster and cached as parquet; the fit runs on the CPU.")
    parser.add_argument("--output", default="ml_planner.pt", help="checkpoint file to write (default ml_planner.pt)")
    parser.add_argument("--cache-dir", default="cache/ml_planner", help="parquet cache of the extracted rows")
    parser.add_argument("--scenarios-per-type", type=int, default=defaults.scenarios_per_type,
                        help=f"training scenarios of each of the seven types (default {defaults.scenarios_per_type})")
    parser.add_argument("--first-seed", type=int, default=FIRST_TRAINING_SEED,
                        help=f"first generator seed of the training set (default {FIRST_TRAINING_SEED}; evaluation "
                             "uses seeds from 0)")
    parser.add_argument("--scenario-types", nargs="*", default=None, help="only these scenario types")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help=f"default {defaults.epochs}")
    parser.add_argument("--hidden", type=int, nargs="+", default=defaults.hidden,
                        help=f"hidden layer widths (default {' '.join(map(str, defaults.hidden))})")
    parser.add_argument("--ignore-ego-past", action="store_true",
                        help="blind the network to the ego's acceleration and past speeds")
    parser.add_argument("--workers", type=int, default=None, help="Dask worker processes for the extraction")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = TrainingSettings(scenarios_per_type=args.scenarios_per_type, first_seed=args.first_seed,
                                scenario_types=args.scenario_types, hidden=list(args.hidden), epochs=args.epochs,
                                ignore_ego_past=args.ignore_ego_past)
    command = "dask-runner train " + shlex.join(argv)
    result = train(settings, args.output, args.cache_dir, command, n_workers=args.workers)
    print(f"wrote {result.checkpoint_path}: {result.rows} rows, training loss {result.train_loss:.5f}, "
          f"validation loss {result.validation_loss:.5f}, {result.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
