"""Parity of dask_runner's runner API with nuPlan's public names: same names, same kinds, same parameters.

NUPLAN below is a hand-written table of every public name of six nuplan-devkit modules, read from
github.com/motional/nuplan-devkit at commit NUPLAN_COMMIT (facts only: names, kinds, parameter names and
order; no nuPlan code is copied, and nuPlan is not imported):

- nuplan/planning/utils/multithreading/worker_pool.py
- nuplan/planning/simulation/runner/executor.py
- nuplan/planning/simulation/runner/runner_report.py
- nuplan/planning/simulation/runner/abstract_runner.py
- nuplan/planning/simulation/runner/simulations_runner.py
- nuplan/planning/simulation/runner/metric_runner.py

Listed: module-level classes and functions; for each class its public methods, properties, static
methods, dataclass fields (in order), abstract members (``WorkerPool._map`` too: nuPlan pools override
it), ``__init__``/``__call__`` where they are written by hand, and the base classes. Not listed: each
module's ``logger``, names a module merely imports, and ``WorkerPool.__str__`` (``str(pool)`` works on
any object).

Parameters are written without ``self``/``cls`` in Python's own notation minus values: ``"x"``,
``"x="`` (has a default), ``"*args"``, ``"**kwargs"``, and a bare ``"*"`` before keyword-only ones.
Ours must take nuPlan's parameters first, in nuPlan's order, of the same kind; ours may give a default
where nuPlan has none (every nuPlan call still works). Anything else that differs must be an explicit,
commented allowance in the table (``extra_params``, ``also_accept``, ``extra_fields``, ``ours_frozen``).

Our names are looked up through the top-level ``dask_runner`` when it exports them, else through the
module mapped to each nuPlan module. Cases that fail today are in KNOWN_DEFECTS (strict xfail): when a
defect is fixed its case XPASSes, which fails the run, and the entry must be deleted.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Union

import pytest

import dask_runner

NUPLAN_REPO = "github.com/motional/nuplan-devkit"
NUPLAN_COMMIT = "e9241677997dd86bfc0bcd44817ab04fe631405b"  # HEAD when read, committed 2025-08-27


# --------------------------------------------------------------------------------------------------
# The table's vocabulary
# --------------------------------------------------------------------------------------------------

ANY_KEYWORD_ONLY = "<any keyword-only>"  # extra_params: ours may add any keyword-only parameters


@dataclass(frozen=True)
class Member:
    """A class member. kind: "method", "property", "staticmethod", "classmethod" or "attribute"."""

    name: str
    kind: str
    params: tuple[str, ...] = ()  # callables only; without self/cls
    abstract: bool = False
    extra_params: Union[tuple[str, ...], str] = ()  # allowance: our extra parameters after nuPlan's
    also_accept: tuple[str, ...] = ()  # allowance: other kinds ours may be


@dataclass(frozen=True)
class Field:
    name: str
    has_default: bool = False


@dataclass(frozen=True)
class Class:
    name: str
    members: tuple[Member, ...] = ()
    bases: tuple[str, ...] = ()  # nuPlan base classes listed in this table, as "module.Class"
    abc_meta: bool = False  # nuPlan's class is abstract (abc.ABC / ABCMeta)
    fields: Union[tuple[Field, ...], None] = None  # dataclass fields in order; None: not a dataclass
    frozen: bool = False  # nuPlan's dataclass(frozen=...)
    ours_frozen: Union[bool, None] = None  # allowance: ours deliberately differs in frozen-ness
    extra_fields: tuple[str, ...] = ()  # allowance: our extra fields after nuPlan's, each with a default
    probe: Union[Callable[[type], Any], None] = None  # builds one of ours, to see instance attributes


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]
    extra_params: Union[tuple[str, ...], str] = ()


@dataclass(frozen=True)
class Module:
    nuplan_path: str
    ours: str  # our module for names that the top-level dask_runner does not export
    names: tuple[Union[Class, Function], ...]


def _probe_worker_pool(cls: type) -> Any:
    """A minimal concrete subclass of our WorkerPool, built, to see what __init__ sets on the instance."""

    class Probe(cls):  # type: ignore[misc, valid-type]
        def _map(self, task: Any, *item_lists: Any, verbose: bool = False) -> list[Any]:
            return []

        def submit(self, task: Any, *args: Any, **kwargs: Any) -> Any:
            return None

    return Probe(dask_runner.WorkerResources(1, 0, 1))


# --------------------------------------------------------------------------------------------------
# nuPlan's public API, read from github.com/motional/nuplan-devkit at commit
# e9241677997dd86bfc0bcd44817ab04fe631405b; each Module's first field is the file it was read from.
# --------------------------------------------------------------------------------------------------

_RUNNER = "nuplan/planning/simulation/runner/"

NUPLAN: dict[str, Module] = {
    "worker_pool": Module(
        "nuplan/planning/utils/multithreading/worker_pool.py",
        "dask_runner.execution.worker_pool",
        (
            Function("get_max_size_of_arguments", ("*item_lists",)),
            Function("align_size_of_arguments", ("*item_lists",)),
            Class(
                "Task",
                fields=(Field("fn"), Field("num_cpus", True), Field("num_gpus", True)),
                frozen=True,
                members=(Member("__call__", "method", ("*args", "**kwargs")),),
            ),
            Class(
                "WorkerResources",
                fields=(Field("number_of_nodes"), Field("number_of_gpus_per_node"), Field("number_of_cpus_per_node")),
                frozen=True,
                members=(
                    Member("number_of_threads", "property"),
                    Member("current_node_cpu_count", "staticmethod", ()),
                ),
            ),
            Class(
                "WorkerPool",
                abc_meta=True,
                probe=_probe_worker_pool,
                members=(
                    Member("__init__", "method", ("config",)),
                    # nuPlan sets ``self.config`` in __init__. Allowance: ours is a read-only property,
                    # because DaskDistributed recomputes it from the live cluster (workers come and go).
                    # Reading ``worker.config`` works as in nuPlan; assigning to it does not.
                    Member("config", "attribute", also_accept=("property",)),
                    Member("map", "method", ("task", "*item_lists", "verbose=")),
                    Member("_map", "method", ("task", "*item_lists", "verbose="), abstract=True),
                    Member("submit", "method", ("task", "*args", "**kwargs"), abstract=True),
                    Member("number_of_threads", "property"),
                ),
            ),
        ),
    ),
    "executor": Module(
        _RUNNER + "executor.py",
        "dask_runner.execution.executor",
        (
            # Allowance (issue): run_simulation may take extra keyword-only parameters.
            Function("run_simulation", ("sim_runner", "exit_on_failure="), extra_params=ANY_KEYWORD_ONLY),
            Function(
                "execute_runners",
                ("runners", "worker", "num_gpus", "num_cpus", "exit_on_failure=", "verbose="),
                # Allowance: our keyword-only extras (report hook, per-runner time limit, the batch's name on
                # the dashboard's Simulations page).
                extra_params=("on_report", "time_limit_s", "experiment_name"),
            ),
        ),
    ),
    "runner_report": Module(
        _RUNNER + "runner_report.py",
        "dask_runner.runner.report",
        (
            Class(
                "RunnerReport",
                fields=(
                    Field("succeeded"),
                    Field("error_message"),
                    Field("start_time"),
                    Field("end_time"),
                    Field("planner_report"),
                    Field("scenario_name"),
                    Field("planner_name"),
                    Field("log_name"),
                ),
                frozen=False,
                # Allowance: ours is frozen (an executor never changes a report it has handed out;
                # nuPlan's executor assigns error_message/succeeded/end_time in place instead).
                ours_frozen=True,
                # Allowance: our defaulted fields after nuPlan's (runner identity, failure stage, worker).
                extra_fields=("runner_id", "error_stage", "worker"),
            ),
        ),
    ),
    "abstract_runner": Module(
        _RUNNER + "abstract_runner.py",
        "dask_runner.runner.abstract_runner",
        (
            Class(
                "AbstractRunner",
                abc_meta=True,
                members=(
                    Member("run", "method", (), abstract=True),
                    Member("scenario", "property", abstract=True),
                    Member("planner", "property", abstract=True),
                ),
            ),
        ),
    ),
    "simulations_runner": Module(
        _RUNNER + "simulations_runner.py",
        "dask_runner.runner.simulation_runner",
        (
            Function("for_each", ("fn", "items")),
            Class(
                "SimulationRunner",
                bases=("abstract_runner.AbstractRunner",),
                members=(
                    # Allowance: ours takes an optional runner_id (reports are keyed by it).
                    Member("__init__", "method", ("simulation", "planner"), extra_params=("runner_id",)),
                    Member("planner", "property"),
                    Member("simulation", "property"),
                    Member("scenario", "property"),
                    Member("run", "method", ()),
                ),
            ),
        ),
    ),
    "metric_runner": Module(
        _RUNNER + "metric_runner.py",
        "dask_runner.runner.metric_runner",
        (
            Class(
                "MetricRunner",
                bases=("abstract_runner.AbstractRunner",),
                members=(
                    # Allowance: ours takes an optional runner_id (reports are keyed by it).
                    Member("__init__", "method", ("simulation_log", "metric_callback"), extra_params=("runner_id",)),
                    Member("run", "method", ()),
                    Member("scenario", "property"),
                    Member("planner", "property"),
                ),
            ),
        ),
    ),
}

# Cases that fail against today's code; each is a strict xfail. Delete an entry when its defect is fixed.
KNOWN_DEFECTS: dict[str, str] = {}


# --------------------------------------------------------------------------------------------------
# Looking up ours and comparing
# --------------------------------------------------------------------------------------------------

_MISSING = object()


def _ours_module_level(module_key: str, name: str) -> tuple[str, Any]:
    """(where we looked, our object or _MISSING)."""
    if name in dask_runner.__all__:
        return f"dask_runner.{name}", getattr(dask_runner, name)
    ours = NUPLAN[module_key].ours
    return f"{ours}.{name}", getattr(importlib.import_module(ours), name, _MISSING)


def _ours_class(module_key: str, name: str) -> type:
    where, cls = _ours_module_level(module_key, name)
    assert inspect.isclass(cls), f"{where}: expected a class, got {cls!r}"
    return cls


def _nuplan_where(module_key: str, qualname: str) -> str:
    return f"nuPlan {NUPLAN[module_key].nuplan_path.rsplit('/', 1)[-1]} {qualname}"


def _tokens(fn: Callable[..., Any], drop_first: bool) -> tuple[str, ...]:
    """``fn``'s parameters in the table's notation, without self/cls when ``drop_first``."""
    params = list(inspect.signature(fn).parameters.values())
    if drop_first:
        params = params[1:]
    tokens: list[str] = []
    star_seen = False
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            tokens.append(f"*{p.name}")
            star_seen = True
        elif p.kind is p.VAR_KEYWORD:
            tokens.append(f"**{p.name}")
        else:
            if p.kind is p.KEYWORD_ONLY and not star_seen:
                tokens.append("*")
                star_seen = True
            if p.kind is p.POSITIONAL_ONLY:
                tokens.append(f"{p.name}/")  # nuPlan has none: this never matches a nuPlan token
            else:
                tokens.append(p.name + ("=" if p.default is not p.empty else ""))
    return tuple(tokens)


def _render(tokens: tuple[str, ...]) -> str:
    return "(" + ", ".join(tokens) + ")"


def _check_params(
    what: str, nuplan: tuple[str, ...], ours: tuple[str, ...], extra: Union[tuple[str, ...], str]
) -> None:
    msg = f"{what}: nuPlan takes {_render(nuplan)}, ours takes {_render(ours)}"
    assert len(ours) >= len(nuplan), msg + " (fewer parameters)"
    for theirs, mine in zip(nuplan, ours):
        # Same name and kind; ours may add a default where nuPlan has none.
        assert mine == theirs or mine == theirs + "=", msg + f" (nuPlan's {theirs!r} vs our {mine!r})"
    keyword_only = "*" in ours[: len(nuplan)] or any(t.startswith("*") for t in nuplan)
    for token in ours[len(nuplan):]:
        if token == "*":
            keyword_only = True
            continue
        if token.startswith("*"):  # our own *args/**kwargs: every nuPlan call still binds
            keyword_only = True
            continue
        name = token.rstrip("=")
        assert keyword_only or token.endswith("="), msg + f" (extra {name!r} is required and positional)"
        if extra == ANY_KEYWORD_ONLY:
            assert keyword_only, msg + f" (extra {name!r} must be keyword-only)"
        else:
            assert name in extra, msg + f" (extra {name!r} is not an allowance in the table)"


def _kind_of(cls: type, name: str, probe: Union[Callable[[type], Any], None]) -> tuple[str, Any]:
    """(kind, raw object) of ``name`` on our class, looked up without running descriptors."""
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return "field", None
    try:
        raw = inspect.getattr_static(cls, name)
    except AttributeError:
        if probe is not None and name in vars(probe(cls)):
            return "attribute", None
        return "missing", None
    if isinstance(raw, property):
        return "property", raw
    if isinstance(raw, staticmethod):
        return "staticmethod", raw.__func__
    if isinstance(raw, classmethod):
        return "classmethod", raw.__func__
    if inspect.isfunction(raw):
        return "method", raw
    return "attribute", raw


def check_module_level(module_key: str, spec: Union[Class, Function]) -> None:
    where, ours = _ours_module_level(module_key, spec.name)
    theirs = _nuplan_where(module_key, spec.name)
    if isinstance(spec, Function):
        assert ours is not _MISSING, f"{theirs} is a function {spec.name}{_render(spec.params)}; {where} is missing"
        assert inspect.isfunction(ours), f"{theirs} is a function; {where} is {ours!r}"
        _check_params(f"{theirs} vs {where}", spec.params, _tokens(ours, drop_first=False), spec.extra_params)
    else:
        assert ours is not _MISSING, f"{theirs} is a class; {where} is missing"
        assert inspect.isclass(ours), f"{theirs} is a class; {where} is {ours!r}"


def check_bases(module_key: str, spec: Class) -> None:
    ours = _ours_class(module_key, spec.name)
    theirs = _nuplan_where(module_key, spec.name)
    if spec.abc_meta:
        assert isinstance(ours, abc.ABCMeta), f"{theirs} is abstract (ABCMeta); ours {ours} is not"
    for base in spec.bases:
        base_module, base_name = base.split(".")
        our_base = _ours_class(base_module, base_name)
        assert issubclass(ours, our_base), f"{theirs} subclasses {base_name}; ours {ours} does not ({our_base})"


def check_abstract_set(module_key: str, spec: Class) -> None:
    ours = _ours_class(module_key, spec.name)
    nuplan = sorted(m.name for m in spec.members if m.abstract)
    mine = sorted(getattr(ours, "__abstractmethods__", ()))
    assert mine == nuplan, (
        f"{_nuplan_where(module_key, spec.name)} has abstract members {nuplan}; ours {ours} has {mine}"
    )


def check_member(module_key: str, spec: Class, member: Member) -> None:
    ours = _ours_class(module_key, spec.name)
    theirs = _nuplan_where(module_key, f"{spec.name}.{member.name}")
    where = f"ours {ours.__module__}.{ours.__qualname__}.{member.name}"
    kind, raw = _kind_of(ours, member.name, spec.probe)
    accepted = (member.kind, *member.also_accept)
    assert kind in accepted, f"{theirs} is a {member.kind}; {where} is {kind}"
    if raw is not None:
        abstract = bool(getattr(raw, "__isabstractmethod__", False))
        assert abstract == member.abstract, (
            f"{theirs} is {'' if member.abstract else 'not '}abstract; {where} is {'' if abstract else 'not '}abstract"
        )
    if kind in ("method", "staticmethod", "classmethod") and member.kind == kind:
        mine = _tokens(raw, drop_first=kind != "staticmethod")
        _check_params(f"{theirs} vs {where}", member.params, mine, member.extra_params)


def check_field(module_key: str, spec: Class, index: int) -> None:
    assert spec.fields is not None
    field = spec.fields[index]
    ours = _ours_class(module_key, spec.name)
    theirs = _nuplan_where(module_key, f"{spec.name}.{field.name}")
    assert dataclasses.is_dataclass(ours), f"{theirs} is a dataclass field; ours {ours} is not a dataclass"
    fields = dataclasses.fields(ours)
    names = [f.name for f in fields]
    nuplan_names = [f.name for f in spec.fields]
    order = f"nuPlan's fields are {nuplan_names}, ours are {names}"
    assert field.name in names, f"{theirs} (field {index}) is missing from ours; {order}"
    assert names.index(field.name) == index, f"{theirs} is field {index}, ours is field {names.index(field.name)}; {order}"
    ours_field = fields[index]
    ours_default = (
        ours_field.default is not dataclasses.MISSING or ours_field.default_factory is not dataclasses.MISSING
    )
    if field.has_default:
        assert ours_default, f"{theirs} has a default; ours has none"


def check_dataclass_shape(module_key: str, spec: Class) -> None:
    """Ours adds only allowed, defaulted fields after nuPlan's, and is frozen as nuPlan's is (or as allowed)."""
    assert spec.fields is not None
    ours = _ours_class(module_key, spec.name)
    theirs = _nuplan_where(module_key, spec.name)
    assert dataclasses.is_dataclass(ours), f"{theirs} is a dataclass; ours {ours} is not"
    fields = dataclasses.fields(ours)
    for f in fields[len(spec.fields):]:
        assert f.name in spec.extra_fields, (
            f"{theirs} has fields {[x.name for x in spec.fields]}; our extra field {f.name!r} is not an allowance"
        )
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, (
            f"our extra field {spec.name}.{f.name} has no default, so nuPlan's constructor calls break"
        )
    frozen = ours.__dataclass_params__.frozen  # type: ignore[attr-defined]
    expected = spec.frozen if spec.ours_frozen is None else spec.ours_frozen
    assert frozen == expected, f"{theirs} has frozen={spec.frozen}; ours has frozen={frozen} (expected {expected})"


# --------------------------------------------------------------------------------------------------
# One test case per name
# --------------------------------------------------------------------------------------------------


def _cases() -> list[tuple[str, Callable[[], None]]]:
    cases: list[tuple[str, Callable[[], None]]] = []

    def add(case_id: str, fn: Callable[..., None], *args: Any) -> None:
        cases.append((case_id, lambda: fn(*args)))

    for key, module in NUPLAN.items():
        for spec in module.names:
            add(f"{key}.{spec.name}", check_module_level, key, spec)
            if not isinstance(spec, Class):
                continue
            add(f"{key}.{spec.name}:bases", check_bases, key, spec)
            add(f"{key}.{spec.name}:abstract_members", check_abstract_set, key, spec)
            if spec.fields is not None:
                add(f"{key}.{spec.name}:dataclass", check_dataclass_shape, key, spec)
                for index, field in enumerate(spec.fields):
                    add(f"{key}.{spec.name}.{field.name}", check_field, key, spec, index)
            for member in spec.members:
                add(f"{key}.{spec.name}.{member.name}", check_member, key, spec, member)
    return cases


CASES = _cases()


def _param(case_id: str, check: Callable[[], None]) -> Any:
    reason = KNOWN_DEFECTS.get(case_id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(check, id=case_id, marks=marks)


@pytest.mark.parametrize("check", [_param(case_id, check) for case_id, check in CASES])
def test_nuplan_parity(check: Callable[[], None]) -> None:
    check()


def test_case_ids_are_unique_and_known_defects_name_real_cases() -> None:
    ids = [case_id for case_id, _ in CASES]
    assert len(ids) == len(set(ids))
    assert sorted(set(KNOWN_DEFECTS) - set(ids)) == []
