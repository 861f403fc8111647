"""Deprecated alias of :mod:`thinkgym.search` (planners) and :mod:`thinkgym.bench` (the bench).

Search moved out of ``thinkgym.agents`` into its own layer. This module re-exports the new
package, keeps ``thinkgym.agents.search.<module>`` imports working, and warns once. It goes in the
next release: import from ``thinkgym.search`` (and ``thinkgym.bench``) instead.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import thinkgym.search as _search
from thinkgym.search import *  # noqa: F403
from thinkgym.search import __all__  # noqa: F401

warnings.warn(
    "thinkgym.agents.search moved to thinkgym.search (and the bench to thinkgym.bench); "
    "import from there: this alias goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)

_MOVED = {
    name: f"thinkgym.search.{name}"
    for name in (
        "base",
        "beam",
        "best_of_n",
        "budget",
        "context",
        "driver",
        "guidance",
        "mcts",
        "planner",
        "progress",
        "registry",
        "requests",
        "result",
        "revision",
        "sharded",
        "tree",
    )
}
_MOVED["bench"] = "thinkgym.bench"
for _name, _target in _MOVED.items():
    try:
        sys.modules[f"{__name__}.{_name}"] = importlib.import_module(_target)
    except ModuleNotFoundError:  # a module removed since: nothing to alias
        continue
del _search
