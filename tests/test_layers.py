"""The package's import order holds: a lower layer never imports a higher one, and no cycles.

Order (docs/architecture.md, "Layers"): ``expr`` < ``envs`` (with the reward protocol and the
default reward) < ``rewards`` (with the model builders of ``thinkgym.models``) < ``agents``
(policies) < ``search`` (planners) < ``learning`` < ``bench`` (with the env server) < CLI
(``thinkgym.cli``, ``thinkgym.commands``, ``thinkgym.__main__``).

Every module of the package is read with :mod:`ast`; every ``import`` counts, also the ones inside
functions and ``TYPE_CHECKING`` blocks. A lower layer takes a higher one's objects as arguments
instead.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "thinkgym"

LAYERS = ("expr", "envs", "rewards", "agents", "search", "learning", "bench", "cli")
"""Layer names, lowest first. ``expr`` is the bottom: the math package and leaf utilities that
import nothing else from thinkgym."""

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("thinkgym.expr", "expr"),
    ("thinkgym.data", "expr"),  # shipped data files only
    ("thinkgym.checkpoints", "expr"),  # leaf utility: safe checkpoint and file loading
    ("thinkgym.distributed", "expr"),  # leaf utility: local/ray execution backends
    ("thinkgym.envs", "envs"),
    ("thinkgym.models", "rewards"),  # model builders, used by reward models and policies
    ("thinkgym.rewards", "rewards"),
    ("thinkgym.agents", "agents"),
    ("thinkgym.search", "search"),
    ("thinkgym.learning", "learning"),
    ("thinkgym.bench", "bench"),
    ("thinkgym.serve", "bench"),  # the env server: envs over HTTP, beside the bench
    ("thinkgym.remote", "bench"),  # the client env of a served env
    ("thinkgym.commands", "cli"),
    ("thinkgym.cli", "cli"),
    ("thinkgym.__main__", "cli"),
)
ROOT_LAYER = "envs"
"""The root package is the public face: it imports nothing above ``envs`` eagerly (so
``import thinkgym`` stays light); higher names are loaded on first use."""

DEPRECATED_ALIASES = {"thinkgym.agents.search"}
"""Modules kept for one release that re-export a moved package (they warn when imported): they
point up by design and are exempt from the order, nothing else."""


def layer_of(module: str) -> str | None:
    """The layer of a ``thinkgym`` module name (``None`` for modules outside the package)."""
    if module != "thinkgym" and not module.startswith("thinkgym."):
        return None
    if module == "thinkgym":
        return ROOT_LAYER
    for prefix, layer in _PREFIXES:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(f"module {module} has no layer; add it to _PREFIXES in {__file__}")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import statement of a file, nested ones included."""
    name = _module_name(path)
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not is_pkg:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from thinkgym.x import y`: y may be a submodule (from thinkgym import envs)
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                target = (
                    sub
                    if (PACKAGE.parent / sub.replace(".", "/")).exists()
                    or (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                    else mod
                )
                out.append((node.lineno, target))
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def violations() -> list[str]:
    """Every import that points up the layer order, as ``file:line: a -> b`` messages."""
    found = []
    for path in _modules():
        name = _module_name(path)
        own = layer_of(name)
        assert own is not None
        if name in DEPRECATED_ALIASES:
            continue
        for line, target in _imports(path):
            other = layer_of(target)
            if other is None or LAYERS.index(other) <= LAYERS.index(own):
                continue
            rel = path.relative_to(PACKAGE.parent)
            found.append(
                f"{rel}:{line}: {name} (layer {own!r}) imports {target} (layer {other!r}); "
                f"a lower layer may not import a higher one (order: {' < '.join(LAYERS)})"
            )
    return found


def test_every_module_has_a_layer() -> None:
    for path in _modules():
        assert layer_of(_module_name(path)) in LAYERS, path
    with pytest.raises(AssertionError, match="thinkgym.newthing has no layer"):
        layer_of("thinkgym.newthing")


def test_no_import_points_up_the_layer_order() -> None:
    bad = violations()
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_the_checker_sees_nested_and_relative_imports(tmp_path: Path, monkeypatch) -> None:
    """The checker itself: an upward import inside a function and a relative one are caught."""
    pkg = tmp_path / "thinkgym"
    (pkg / "envs").mkdir(parents=True)
    (pkg / "learning").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "envs" / "__init__.py").write_text("")
    (pkg / "learning" / "__init__.py").write_text("")
    (pkg / "learning" / "traces.py").write_text("X = 1\n")
    (pkg / "envs" / "bad.py").write_text(
        "def f():\n    from thinkgym.learning.traces import X\n    return X\n"
    )
    (pkg / "envs" / "rel.py").write_text("from ..learning import traces\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    bad = violations()
    assert len(bad) == 2, bad
    assert any("envs/bad.py:2:" in b and "'envs'" in b and "'learning'" in b for b in bad)
    assert any("envs/rel.py:1:" in b and "thinkgym.learning.traces" in b for b in bad)


HEAVY = (
    "torch",
    "transformers",
    "stable_baselines3",
    "sb3_contrib",
    "ray",
    "datasets",
    "trl",
    "matplotlib",
    "tensorboard",
)


@pytest.mark.parametrize("stmt", ["import thinkgym", "import thinkgym.envs, thinkgym.rewards"])
def test_import_thinkgym_stays_light(stmt: str) -> None:
    code = (
        f"import sys; {stmt}; import gymnasium as gym; gym.make('thinkgym/Game24-v0'); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = out.stdout.strip()
    assert loaded == "", f"{stmt!r} imported heavy modules: {loaded}"


def import_graph() -> dict[str, set[str]]:
    """Module -> the thinkgym modules it imports (every import, nested ones included)."""
    names = {_module_name(p) for p in _modules()}
    graph: dict[str, set[str]] = {}
    for path in _modules():
        name = _module_name(path)
        if name in DEPRECATED_ALIASES:
            continue
        deps = set()
        for _, target in _imports(path):
            # `from thinkgym.search.x import y` names module thinkgym.search.x
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                deps.add(target)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles between modules (package ``__init__`` re-exports of children excluded)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep.startswith(node + "."):  # a package importing its own children
                continue
            if state.get(dep) == 1:
                found.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycles_between_modules() -> None:
    loops = cycles(import_graph())
    assert not loops, "import cycles:\n" + "\n".join(" -> ".join(c) for c in loops)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_old_search_path_warns_once_and_reexports() -> None:
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    import thinkgym.agents.search as old\n"
        "    import thinkgym.agents.search\n"
        "    from thinkgym.agents.search.mcts import MCTS\n"
        "import thinkgym.search as new\n"
        "assert old.BestOfN is new.BestOfN and MCTS is new.MCTS\n"
        "dep = [x for x in w if issubclass(x.category, DeprecationWarning)]\n"
        "assert len(dep) == 1 and 'thinkgym.search' in str(dep[0].message), dep\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
