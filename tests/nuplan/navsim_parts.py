"""NAVSIM's own build_worker and nuPlan's worker_map, as NAVSIM's caching and scoring scripts call them.

Run in nuPlan's environment: ``python -c "import navsim_parts; navsim_parts.main()" OVERRIDES...`` composes
NAVSIM's run_pdm_score config with the overrides, builds its worker with NAVSIM's ``build_worker`` and maps
:func:`square_each` over ``ITEMS`` items (one list per chunk, as NAVSIM's functions take a list per log). It
prints one JSON line: the results or the error, and the chunks nuPlan's ``worker_map`` made.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ITEMS = 12


def square_each(items: list[int]) -> list[dict[str, int]]:
    """NAVSIM's shape of mapped function: a list in, a list out. Item ``$KILL_ITEM`` kills its process."""
    results = []
    for item in items:
        if str(item) == os.environ.get("KILL_ITEM"):
            os._exit(13)
        Path(os.environ["MARKS"], str(item)).touch()
        results.append({"item": item, "square": item * item})
    return results


def main() -> None:
    import navsim
    from hydra import compose, initialize_config_dir
    from navsim.planning.script.builders.worker_pool_builder import build_worker
    from nuplan.planning.utils.multithreading.worker_utils import chunk_list, worker_map

    config_dir = Path(navsim.__file__).parent / "planning/script/config/pdm_scoring"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        cfg = compose("default_run_pdm_score", overrides=sys.argv[1:])
    worker = build_worker(cfg)
    items = list(range(ITEMS))
    outcome: dict[str, Any] = {"worker": type(worker).__name__,
                               "chunks": chunk_list(items, worker.number_of_threads) if worker.number_of_threads else [items]}
    try:
        outcome["results"] = worker_map(worker, square_each, items)
    except Exception as exc:  # the culprit's error, as nuPlan's own pools raise it
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if hasattr(worker, "shutdown"):
            worker.shutdown()
    print("NAVSIM_OUTCOME " + json.dumps(outcome), flush=True)


def print_metric_cache_digests(cache: str) -> None:
    """One JSON line: every metric cache under ``cache`` (NAVSIM's lzma-compressed pickle of a ``MetricCache``), by
    its path there, as the SHA-256 of its pickle with its own ``file_path`` (where it was written) made relative."""
    import dataclasses
    import hashlib
    import lzma
    import pickle

    digests = {}
    for path in sorted(Path(cache).rglob("metric_cache.pkl")):
        metric_cache = pickle.loads(lzma.decompress(path.read_bytes()))
        relative = path.relative_to(cache)
        metric_cache = dataclasses.replace(metric_cache, file_path=relative)
        digests[str(relative)] = hashlib.sha256(pickle.dumps(metric_cache, protocol=5)).hexdigest()
    print("METRIC_CACHE " + json.dumps(digests), flush=True)
