"""The layout's rules, checked: dask_runner's modules form layers that import only downwards, with no cycle,
the Dask package's rooms keep to their contracts, and distributed's private parts are reached in one module.

Every ``import`` of a dask_runner module counts, lazy ones inside functions included (a lazy import is still a
dependency; it only hides a cycle from Python). The layers, top to bottom, are those of the README's "How the
code is laid out".
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dask_runner"
LAYERS = [  # top to bottom; a module may import its own layer and those below it
    ("dask_runner.cli", "dask_runner.experiment"),
    ("dask_runner.report", "dask_runner.viewer"),
    ("dask_runner.nuplan",),
    ("dask_runner.dask", "dask_runner.dashboard"),
    ("dask_runner.execution",),
    ("dask_runner.io",),
    ("dask_runner.runner",),
    ("dask_runner.simulation", "dask_runner.planners", "dask_runner.metrics", "dask_runner.scenarios"),
    ("dask_runner.errors", "dask_runner.config", "dask_runner.optional_dependencies", "dask_runner.per_worker"),
]



def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the dask_runner modules it imports (``from pkg import submodule`` names the submodule)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                targets = submodules | ({node.module} if len(submodules) < len(node.names) else set())
            elif isinstance(node, ast.Import):
                targets = {a.name for a in node.names}
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _layer(module: str) -> int:
    if module == "dask_runner":  # the package's public names, above everything
        return -1
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS (and to the README's layout)")


def test_no_module_imports_a_layer_above_its_own() -> None:
    graph = _imports(_modules())
    upward = {(m, t) for m, targets in graph.items() for t in targets if _layer(t) < _layer(m)}
    assert upward == set(), "imports from a higher layer: move the code down, or invert the call"


def test_no_import_cycle_between_modules() -> None:
    graph = _imports(_modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


# Contracts inside and around the Dask package: (importer prefix, imported prefix) pairs that must not occur.
FORBIDDEN = [
    # The execution layer knows nothing of Dask (nor of the page that watches a batch).
    ("dask_runner.execution", "dask_runner.dask"),
    ("dask_runner.execution", "dask_runner.dashboard"),
    # The dashboard's scheduler side reads only the keys, the event schema (its own) and the compat module.
    *[("dask_runner.dashboard", f"dask_runner.dask.{room}")
      for room in ("pool", "batch", "tasks", "resources", "import_check", "mapped_calls", "clusters")],
]
THIRD_PARTY_FORBIDDEN = {"dask_runner.execution": ("dask", "distributed")}
COMPAT = "dask_runner.dask.compat"
# Parts of distributed that are neither documented nor underscored, reached only through COMPAT.
UNDOCUMENTED = {"http_application", "http_server", "template_variables", "BokehApplication"}
UNDOCUMENTED_MODULES = ("distributed.dashboard",)


def _starts(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_dask_package_contracts_hold() -> None:
    graph = _imports(_modules())
    broken = sorted((m, t) for m, targets in graph.items() for t in targets
                    for importer, imported in FORBIDDEN if _starts(m, importer) and _starts(t, imported))
    assert broken == []


def test_the_execution_layer_imports_neither_dask_nor_distributed() -> None:
    found = []
    for name, path in _modules().items():
        for prefix, packages in THIRD_PARTY_FORBIDDEN.items():
            if not _starts(name, prefix):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                found += [(name, n) for n in names if n.split(".")[0] in packages]
    assert found == []


def _names_defined_by_dask_runner(trees: dict[str, ast.Module]) -> set[str]:
    defined: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                defined.add(node.attr)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
    return defined


def _foreign_private_uses(tree: ast.Module, ours: set[str]) -> list[str]:
    """``x._name`` / ``getattr(x, "_name")`` where dask_runner defines no ``_name``, names in UNDOCUMENTED,
    and imports of UNDOCUMENTED_MODULES."""
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            name = node.args[1].value
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(UNDOCUMENTED_MODULES):
                uses.append(f"line {node.lineno}: from {node.module} import ...")
            continue
        else:
            continue
        private = name.startswith("_") and not name.endswith("_") and name not in ours  # not Hydra's _target_
        if private or name in UNDOCUMENTED:
            uses.append(f"line {node.lineno}: {ast.unparse(node)}")
    return uses


def test_distributed_private_parts_are_reached_only_through_the_compat_module() -> None:
    trees = {name: ast.parse(path.read_text()) for name, path in _modules().items()}
    ours = _names_defined_by_dask_runner(trees)
    found = {name: uses for name, tree in trees.items() if name != COMPAT
             for uses in [_foreign_private_uses(tree, ours)] if uses}
    assert found == {}, f"move these into {COMPAT} (one function each, checked for and logged when missing)"


def test_the_private_parts_check_sees_a_private_attribute() -> None:
    """The check above would pass on anything if it saw nothing: it sees the compat module's own uses."""
    trees = {name: ast.parse(path.read_text()) for name, path in _modules().items()}
    uses = _foreign_private_uses(trees[COMPAT], _names_defined_by_dask_runner(trees))
    assert any("_broker" in use for use in uses) and any("http_application" in use for use in uses)


# A cluster module starts clusters; the pool on it is its factory's business. So importing one (the job does, to
# read its settings) never imports the pool: the factories import it when called.
POOL_ROOMS = tuple(f"dask_runner.dask.{room}" for room in
                   ("pool", "batch", "tasks", "mapped_calls", "allocation_pool", "nuplan_pools", "ray_shim"))


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Modules imported when the module is (not inside functions or classes, nor under ``if TYPE_CHECKING``)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                break
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                found.add(inner.module)
            elif isinstance(inner, ast.Import):
                found.update(a.name for a in inner.names)
    return found


def test_importing_a_cluster_module_does_not_import_the_pool() -> None:
    found = {name: sorted(m for m in _module_level_imports(ast.parse(path.read_text()))
                          if any(_starts(m, room) for room in POOL_ROOMS))
             for name, path in _modules().items() if _starts(name, "dask_runner.dask.clusters")}
    assert {name: rooms for name, rooms in found.items() if rooms} == {}
