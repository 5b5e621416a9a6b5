"""What configuration made a folder's results: recorded on every invocation, compared on ``resume``.

``config.yaml`` is the configuration the folder's first results were made with; every later
invocation on the folder (``resume=true``) adds ``configs/resume-<n>.yaml``, so the folder always
says how each of its rows was made. A resume whose configuration changes results is refused, with
the differing keys listed, unless ``resume_allow_config_change=true``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dask_runner.errors import ConfigError
from dask_runner.io.output_dir import OutputLayout, atomic_write_bytes

if TYPE_CHECKING:
    from omegaconf import DictConfig

# Keys that change where and how a batch runs, or what is printed, but never a runner's result.
RESULT_NEUTRAL_KEYS = frozenset({
    "worker", "resume", "resume_allow_config_change", "output_dir", "experiment_name", "verbose",
    "show_progress", "allow_failures", "exit_on_failure", "html_report", "max_report_scenario_plots",
    "min_free_disk_gb", "number_of_gpus_allocated_per_simulation", "number_of_cpus_allocated_per_simulation",
    "time_limit_s",
    # Which runners exist, not what one of them produces: a larger limit extends the batch on resume.
    "scenario_filter",
})


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per result-changing difference: ``key: old -> new``, or a whole entry ``added`` / ``removed``."""
    return _differences({k: v for k, v in saved.items() if k not in RESULT_NEUTRAL_KEYS},
                        {k: v for k, v in current.items() if k not in RESULT_NEUTRAL_KEYS}, "")


def _differences(before: Any, after: Any, path: str) -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        lines: list[str] = []
        for key in sorted(before.keys() | after.keys(), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                lines.append(f"{where}: removed")
            elif key not in before:
                lines.append(f"{where}: added")
            else:
                lines.extend(_differences(before[key], after[key], where))
        return lines
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


def _resolved(cfg: DictConfig) -> dict[str, Any]:
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    return {str(key): value for key, value in container.items()}


def check_resume_config(cfg: DictConfig, layout: OutputLayout) -> None:
    """Refuse to resume a folder whose results were made with another configuration (ConfigError lists the keys)."""
    if not cfg.get("resume") or cfg.get("resume_allow_config_change") or not layout.holds_results():
        return
    from omegaconf import OmegaConf

    recorded = _latest_record(layout)
    if recorded is None:
        return
    saved = OmegaConf.to_container(OmegaConf.load(recorded), resolve=False)
    assert isinstance(saved, dict)
    differences = config_differences({str(key): value for key, value in saved.items()}, _resolved(cfg))
    if differences:
        shown = "; ".join(differences[:8]) + (f"; and {len(differences) - 8} more" if len(differences) > 8 else "")
        raise ConfigError(
            f"resume=true on {layout.root}, whose results were made with another configuration ({shown}); "
            "resume with the same settings, choose a new output_dir=..., or pass resume_allow_config_change=true "
            f"to mix them (each configuration is recorded in {layout.config_file.name} and "
            f"{layout.config_history_dir.name}/)"
        )


def _latest_record(layout: OutputLayout) -> Any:
    history = sorted(layout.config_history_dir.glob("resume-*.yaml"), key=_record_number)
    if history:
        return history[-1]
    return layout.config_file if layout.config_file.is_file() else None


def _record_number(path: Any) -> int:
    try:
        return int(path.stem.rpartition("-")[2])
    except ValueError:
        return 0


def record_config(cfg: DictConfig, layout: OutputLayout) -> None:
    """``config.yaml`` for a folder without results; ``configs/resume-<n>.yaml`` for each later invocation."""
    from omegaconf import OmegaConf

    text = OmegaConf.to_yaml(cfg, resolve=True).encode()
    if not layout.holds_results() or not layout.config_file.is_file():
        atomic_write_bytes(layout.config_file, text)
        return
    layout.config_history_dir.mkdir(exist_ok=True)
    numbers = [_record_number(p) for p in layout.config_history_dir.glob("resume-*.yaml")]
    atomic_write_bytes(layout.config_history_dir / f"resume-{max(numbers, default=0) + 1}.yaml", text)
