"""Search trees you can look at: one JSON file per searched problem, and an HTML page per file.

:func:`save_trees` writes each problem's tree (``thinkgym bench --save-trees``): every node's
step, prior, log-prob, guidance score, visits and mean value, which nodes ended the episode and
the reference-free verdict of their answers, plus the path the planner chose, its answer, whether
that answer was right (scored against the reference after search) and what the search cost.
:func:`render_tree_html` turns one such file into a self-contained page (``thinkgym show-tree``):
nested collapsible nodes, visits / value / prior / score on each edge, the chosen path
highlighted and opened; no external scripts, styles or fonts. Planners that keep no tree (greedy,
revision) get their chosen steps as a chain.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TREE_FORMAT",
    "chosen_path",
    "tree_record",
    "save_trees",
    "load_tree_record",
    "render_tree_html",
    "write_tree_html",
]

TREE_FORMAT = "thinkgym-search-tree"
"""The ``format`` field of a saved tree (with ``version`` 1)."""

MAX_FILE_BYTES = 64 * 2**20
"""Largest tree file :func:`load_tree_record` reads."""

MAX_NODES = 200_000
"""Most nodes a tree file may hold."""


def chosen_path(nodes: Sequence[dict[str, Any]], steps: Sequence[str]) -> list[int]:
    """Node ids from the root along ``steps`` (the chosen trajectory), as far as they match.

    Siblings may repeat a step text; every matching branch is followed and the first one that
    matches furthest is returned.

    Args:
        nodes: the tree's nodes as JSON dicts (``id``, ``parent``, ``step``, ``children``).
        steps: the chosen steps, in order.
    """
    if not nodes:
        return []
    frontier = [0]
    for step in steps:
        nxt = [
            c
            for i in frontier
            for c in nodes[i].get("children", [])
            if 0 <= c < len(nodes) and nodes[c].get("step") == step
        ]
        if not nxt:
            break
        frontier = nxt
    path, cur, seen = [], frontier[0], set()
    while cur is not None and cur not in seen:
        seen.add(cur)
        path.append(cur)
        cur = nodes[cur].get("parent")
    return path[::-1]


def _chain(steps: Sequence[str], result: Any) -> list[dict[str, Any]]:
    """Nodes of a plain chain root -> steps (for planners that keep no tree)."""
    nodes: list[dict[str, Any]] = [{"id": 0, "parent": None, "step": None, "depth": 0}]
    for i, step in enumerate(steps, 1):
        nodes[-1]["children"] = [i]
        last = i == len(steps)
        nodes.append(
            {
                "id": i,
                "parent": i - 1,
                "step": step,
                "depth": i,
                "terminal": last and result.answer is not None,
                "solved": result.solved_without_reference if last else None,
                "answer": result.answer if last else None,
            }
        )
    nodes[-1]["children"] = []
    return nodes


def tree_record(
    result: Any,
    env: Any = None,
    *,
    budget: int | None = None,
    seed: int | None = None,
    guidance: str | None = None,
    checks: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """One problem's search as a JSON-ready dict (what :func:`save_trees` writes).

    Args:
        result: a scored :class:`~thinkgym.search.result.SearchResult`.
        env: the env it ran on (its problem statement is recorded when given).
        budget: the budget the planner was sized for (``None``: unbudgeted).
        seed: the bench seed.
        guidance: what ranked the candidates.
        checks: which reference-free checks were on during search.
    """
    data = result.to_json()
    tree = data.pop("tree", None)
    nodes = list(tree["nodes"]) if tree and len(tree.get("nodes", [])) > 1 else None
    kept = nodes is not None
    if nodes is None:
        nodes = _chain(result.steps, result)
    problem_text = None
    if env is not None:
        from thinkgym.search.context import resolve_env

        inner, _ = resolve_env(env)
        try:
            problem_text = inner.format_problem(result.problem)
        except (KeyError, TypeError, ValueError, AttributeError):
            problem_text = None
    return {
        "format": TREE_FORMAT,
        "version": 1,
        "env_id": data["env_id"],
        "planner": data["planner"],
        "budget": budget,
        "seed": seed,
        "guidance": guidance,
        "checks": dict(checks or {}),
        "problem": data["problem"],
        "problem_text": problem_text,
        "steps": data["steps"],
        "answer": data["answer"],
        "correct": data["correct"],
        "solved_without_reference": data["solved_without_reference"],
        "cost": data["cost"],
        "tree_kept": kept,
        "chosen_path": chosen_path(nodes, result.steps),
        "nodes": nodes,
    }


def _slug(text: str) -> str:
    text = text.split("/")[-1]
    text = re.sub(r"-v\d+$", "", text)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def save_trees(
    directory: str | Path,
    env: Any,
    results: Sequence[Any],
    *,
    budget: int | None = None,
    seed: int | None = None,
    guidance: str | None = None,
    checks: dict[str, bool] | None = None,
) -> list[Path]:
    """Write one JSON file per result: ``<env>_<planner>[_b<budget>]_s<seed>_p<k>.json``.

    ``k`` is the problem's index in the bench's problem list. Returns the paths written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, result in enumerate(results):
        record = tree_record(
            result, env, budget=budget, seed=seed, guidance=guidance, checks=checks
        )
        name = _slug(record["env_id"]) + "_" + _slug(record["planner"])
        if budget:
            name += f"_b{budget}"
        name += f"_s{seed if seed is not None else 0}_p{k:03d}.json"
        path = out / name
        path.write_text(json.dumps(record, indent=1, allow_nan=False))
        paths.append(path)
    return paths


def load_tree_record(path: str | Path) -> dict[str, Any]:
    """Read and check a file written by :func:`save_trees`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a saved search tree (the message says what is wrong and how to make
            one), too large, or nodes that do not form a tree.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no tree file at {path}; write trees with `thinkgym bench --save-trees`"
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is {size:,} bytes; tree files are at most {MAX_FILE_BYTES:,}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not JSON ({exc}); pass a file from --save-trees") from None
    if not isinstance(data, dict) or data.get("format") != TREE_FORMAT:
        raise ValueError(
            f'{path} is not a saved search tree (no "format": "{TREE_FORMAT}"); write '
            "one with `thinkgym bench --save-trees` (results.json holds no trees)"
        )
    nodes = data.get("nodes")
    if not isinstance(nodes, list) or not nodes or len(nodes) > MAX_NODES:
        raise ValueError(f"{path}: 'nodes' must be a list of 1 to {MAX_NODES:,} nodes")
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or node.get("id") != i:
            raise ValueError(f'{path}: node {i} must be an object with "id": {i}')
        kids = node.get("children", [])
        if not isinstance(kids, list) or not all(isinstance(c, int) for c in kids):
            raise ValueError(f"{path}: node {i} has children {kids!r}; give a list of node ids")
        for c in kids:
            if not 0 < c < len(nodes) or nodes[c].get("parent") != i:
                raise ValueError(
                    f"{path}: node {i} lists child {c}, whose parent is not {i}; the nodes do "
                    "not form a tree"
                )
    path_ids = data.get("chosen_path", [])
    if not isinstance(path_ids, list) or not all(
        isinstance(c, int) and 0 <= c < len(nodes) for c in path_ids
    ):
        raise ValueError(f"{path}: chosen_path must list node ids below {len(nodes)}")
    return data


# ---------------------------------------------------------------------------------- HTML

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1d232b}
h1{font-size:1.3em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}
pre.problem{background:#f4f6f8;padding:.6em .8em;border-radius:4px;white-space:pre-wrap}
.meta span{margin-right:1.2em}.ok{color:#11703a;font-weight:600}.bad{color:#b42318;font-weight:600}
.controls button{margin:.4em .4em .4em 0;padding:.25em .7em}
#status{color:#475467}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:1.3em;border-left:1px dotted #c3c9d1}
ul.tree{padding-left:0;border:0}
li.node{margin:.12em 0}
li.node>details>summary,li.node>div.leaf{cursor:pointer;padding:.05em .3em;border-radius:3px}
li.node>div.leaf{cursor:default;padding-left:1.35em}
.edge{display:inline-block;min-width:17em;font:12px/1.3 ui-monospace,Menlo,Consolas,monospace;
color:#475467}
.step{font-family:ui-monospace,Menlo,Consolas,monospace}
li.chosen>details>summary,li.chosen>div.leaf{background:#fff3c4;font-weight:600}
.tag{font-size:11px;border-radius:3px;padding:0 .35em;margin-left:.4em;border:1px solid}
.tag.verified{color:#11703a;border-color:#11703a}.tag.refuted{color:#b42318;border-color:#b42318}
.tag.answer{color:#344054;border-color:#98a2b3}
body.only-chosen li.node:not(.chosen){display:none}
"""

_SCRIPT = """
(function () {
  var all = document.querySelectorAll('li.node');
  var chosen = document.querySelectorAll('li.node.chosen');
  var depth = 0;
  all.forEach(function (li) { depth = Math.max(depth, +li.getAttribute('data-depth')); });
  function setOpen(open, onlyChosen) {
    document.querySelectorAll('li.node > details').forEach(function (d) {
      d.open = open || (onlyChosen && d.parentNode.classList.contains('chosen'));
    });
  }
  document.getElementById('expand').onclick = function () {
    document.body.classList.remove('only-chosen'); setOpen(true, false);
  };
  document.getElementById('collapse').onclick = function () {
    document.body.classList.remove('only-chosen'); setOpen(false, true);
  };
  document.getElementById('chosen-only').onclick = function () {
    document.body.classList.toggle('only-chosen'); setOpen(false, true);
  };
  document.getElementById('status').textContent =
    'Rendered ' + all.length + ' nodes, ' + depth + ' levels deep; the chosen path has ' +
    Math.max(0, chosen.length - 1) + ' steps (highlighted).';
})();
"""


def _num(value: Any, digits: int = 2) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _edge_label(node: dict[str, Any]) -> str:
    """``N=visits Q=value P=prior score=... lp=...`` for the edge into ``node``."""
    parts = []
    visits = node.get("visits")
    if isinstance(visits, int) and not isinstance(visits, bool):
        parts.append(f"N={visits}")
        value = _num(node.get("value"))
        if visits > 0 and value is not None:
            parts.append(f"Q={value}")
    prior = _num(node.get("prior"))
    if prior is not None and node.get("parent") is not None:
        parts.append(f"P={prior}")
    score = _num(node.get("score"))
    if score is not None:
        parts.append(f"score={score}")
    logprob = _num(node.get("logprob"))
    if logprob is not None and node.get("parent") is not None and node.get("logprob"):
        parts.append(f"lp={logprob}")
    count = node.get("count")
    if isinstance(count, int) and count > 1:
        parts.append(f"x{count}")
    return " ".join(parts)


def _tags(node: dict[str, Any]) -> str:
    if not node.get("terminal"):
        return ""
    if node.get("answer") is None:
        return '<span class="tag answer">ended without an answer</span>'
    solved = node.get("solved")
    if solved is True:
        return '<span class="tag verified">answer verified</span>'
    if solved is False:
        return '<span class="tag refuted">answer refuted</span>'
    return '<span class="tag answer">answer (needs the reference)</span>'


def _render_nodes(nodes: list[dict[str, Any]], chosen: set[int], out: list[str]) -> None:
    """Nested ``<li>`` elements from the root, iteratively (deep trees need no recursion)."""
    stack: list[tuple[str, int]] = [("open", 0)]  # ("open" | "close-details" | "close-leaf", id)
    seen: set[int] = set()
    while stack:
        kind, i = stack.pop()
        if kind != "open":
            out.append("</ul></details></li>" if kind == "close-details" else "</li>")
            continue
        if i in seen:  # a malformed file; load_tree_record refuses these
            continue
        seen.add(i)
        node = nodes[i]
        classes = ["node"] + (["chosen"] if i in chosen else [])
        classes += ["terminal"] if node.get("terminal") else []
        step = node.get("step")
        text = "(problem)" if node.get("parent") is None else str(step if step is not None else "")
        label = (
            f'<span class="edge">{html.escape(_edge_label(node))}</span> '
            f'<span class="step">{html.escape(text)}</span>{_tags(node)}'
            f' <span class="nid">#{i}</span>'
        )
        depth = node.get("depth") if isinstance(node.get("depth"), int) else 0
        out.append(f'<li class="{" ".join(classes)}" data-id="{i}" data-depth="{depth}">')
        kids = [c for c in node.get("children", []) if isinstance(c, int) and 0 < c < len(nodes)]
        if kids:
            is_open = " open" if i in chosen or i == 0 else ""
            out.append(f"<details{is_open}><summary>{label}</summary><ul>")
        else:
            out.append(f'<div class="leaf">{label}</div>')
        stack.append(("close-details" if kids else "close-leaf", i))
        stack.extend(("open", c) for c in reversed(kids))


def render_tree_html(record: dict[str, Any]) -> str:
    """A self-contained HTML page of one saved tree (from :func:`load_tree_record`).

    Every text from the file (steps, answers, the problem) is HTML-escaped. The page works
    without scripts (nested ``<details>`` elements); a short inline script adds expand /
    collapse / chosen-path-only buttons and a status line.
    """
    nodes = record["nodes"]
    chosen = set(record.get("chosen_path") or [])
    esc = html.escape
    title = f"{record.get('planner')} on {record.get('env_id')}"
    if record.get("budget"):
        title += f", budget {record['budget']}"
    if record.get("seed") is not None:
        title += f", seed {record['seed']}"
    correct = record.get("correct")
    verdict = (
        '<b class="ok">correct</b>'
        if correct is True
        else '<b class="bad">wrong</b>'
        if correct is False
        else "not scored"
    )
    answer = record.get("answer")
    shown = esc(str(answer)) if answer is not None else "none (the search ended without one)"
    cost = record.get("cost") or {}
    checks = record.get("checks") or {}
    meta = [
        f"<span>answer: <b>{shown}</b> ({verdict}, scored against the "
        "reference after the search)</span>",
        f"<span>guidance: {esc(str(record.get('guidance') or 'none'))}</span>",
    ]
    meta += [
        f"<span>{esc(k.replace('_', ' '))}: {'on' if v else 'off'}</span>"
        for k, v in checks.items()
    ]
    for key in ("policy_calls", "tokens", "reward_model_calls"):
        if _num(cost.get(key)) is not None:
            meta.append(f"<span>{key.replace('_', ' ')}: {esc(_num(cost[key], 0) or '')}</span>")
    problem = record.get("problem_text") or json.dumps(record.get("problem"), ensure_ascii=False)
    body: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Search tree: {esc(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Search tree: {esc(title)}</h1>",
        f'<pre class="problem">{esc(str(problem))}</pre>',
        f'<p class="meta">{" ".join(meta)}</p>',
    ]
    if not record.get("tree_kept", True):
        body.append("<p>This planner keeps no tree: its chosen steps are shown as a chain.</p>")
    body += [
        '<p class="legend">Each line is the edge into a node: N = visits, Q = mean backed-up '
        "value, P = prior among siblings, score = guidance score, lp = the step's log-prob, "
        "xK = proposed K times. The chosen path is highlighted and open; click a line to "
        "open or close it.</p>",
        '<div class="controls"><button id="expand">Expand all</button>'
        '<button id="collapse">Collapse to the chosen path</button>'
        '<button id="chosen-only">Chosen path only</button></div>',
        f'<p id="status">{len(nodes)} nodes.</p>',
        '<ul class="tree">',
    ]
    _render_nodes(nodes, chosen, body)
    body.append("</ul>")
    steps = record.get("steps") or []
    body.append('<h2>Chosen steps</h2><ol class="chosen-steps">')
    body += [f"<li>{esc(str(s))}</li>" for s in steps]
    body.append("</ol>")
    body.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(body) + "\n"


def write_tree_html(path: str | Path, out: str | Path | None = None) -> Path:
    """Render the tree file ``path`` to ``out`` (default: the same name with ``.html``).

    Raises:
        FileNotFoundError, ValueError: see :func:`load_tree_record`.
    """
    record = load_tree_record(path)
    target = Path(out) if out is not None else Path(path).with_suffix(".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_tree_html(record), encoding="utf-8")
    return target
