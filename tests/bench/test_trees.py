"""Search trees you can look at: ``thinkgym bench --save-trees`` and ``thinkgym show-tree``."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from thinkgym.bench import BenchConfig, run_benchmark
from thinkgym.bench.trees import (
    TREE_FORMAT,
    chosen_path,
    load_tree_record,
    render_tree_html,
    write_tree_html,
)
from thinkgym.cli import main

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("trees")
    config = BenchConfig(
        envs=["Game24"],
        planners=["greedy", "beam", "mcts"],
        budgets=[8],
        problems=2,
        policy="oracle",
        throughput=False,
        progress=False,
    )
    report = run_benchmark(config, save_trees=out)
    return out, report


def test_save_trees_writes_one_file_per_problem_planner_and_budget(saved) -> None:
    out, report = saved
    names = sorted(p.name for p in out.glob("*.json"))
    assert names == [
        "Game24_beam_b8_s0_p000.json",
        "Game24_beam_b8_s0_p001.json",
        "Game24_greedy_s0_p000.json",
        "Game24_greedy_s0_p001.json",
        "Game24_mcts_b8_s0_p000.json",
        "Game24_mcts_b8_s0_p001.json",
    ]
    rec = load_tree_record(out / "Game24_mcts_b8_s0_p000.json")
    assert rec["format"] == TREE_FORMAT and rec["planner"] == "mcts" and rec["budget"] == 8
    assert rec["checks"]["answer_check"] is True and rec["correct"] is True
    assert rec["problem_text"].startswith("Numbers:") and rec["tree_kept"]
    nodes = rec["nodes"]
    assert len(nodes) > 2 and nodes[0]["visits"] > 0
    # the chosen path walks from the root through the chosen steps, ending at the answer
    path = rec["chosen_path"]
    assert path[0] == 0 and [nodes[i]["step"] for i in path[1:]] == rec["steps"]
    assert nodes[path[-1]]["terminal"] and nodes[path[-1]]["answer"] == rec["answer"]
    assert all(nodes[b]["parent"] == a for a, b in zip(path, path[1:], strict=False))
    assert load_tree_record(out / "Game24_greedy_s0_p000.json")["chosen_path"] == [0, 1, 2, 3, 4]


def test_a_planner_without_a_tree_gets_its_steps_as_a_chain() -> None:
    from thinkgym.bench.trees import tree_record
    from thinkgym.search import Budget, Cost, SearchResult

    steps = ["4 * 6 = 24 (left: 24 1 1)", "Answer: 4 * 6 * 1 * 1 = 24"]
    result = SearchResult(
        "plugin", "thinkgym/Game24-v0", {"numbers": [1, 1, 4, 6], "target": 24}, steps,
        "4 * 6 * 1 * 1 = 24", True, Cost(), Budget(),
    )  # fmt: skip
    rec = tree_record(result, "Game24")
    assert not rec["tree_kept"] and rec["chosen_path"] == [0, 1, 2]
    assert [n["step"] for n in rec["nodes"]] == [None, *steps]
    assert rec["nodes"][2]["terminal"] and rec["nodes"][2]["solved"] is True
    assert rec["problem_text"] == "Numbers: 1 1 4 6 | Target: 24"
    assert "keeps no tree" in render_tree_html(rec)


def _page(saved) -> tuple[dict, str]:
    rec = load_tree_record(saved[0] / "Game24_mcts_b8_s0_p000.json")
    return rec, render_tree_html(rec)


def test_page_is_self_contained_with_values_visits_and_the_chosen_path(saved) -> None:
    rec, page = _page(saved)
    assert page.startswith("<!DOCTYPE html>") and page.count("<script>") == 1
    assert not re.search(r"https?://|<link|\bsrc=|@import", page)  # nothing from the network
    nodes = rec["nodes"]
    assert page.count('<li class="node') == len(nodes)
    chosen = re.findall(r'<li class="node chosen[^"]*" data-id="(\d+)"', page)
    assert [int(i) for i in chosen] == rec["chosen_path"]
    visited = [n for n in nodes[1:] if n["visits"]]
    assert visited and f"N={visited[0]['visits']} Q={visited[0]['value']:.2f}" in page
    assert "answer verified" in page and html.escape(rec["answer"]) in page
    assert "<details open><summary>" in page  # the root and the chosen path start open


def test_page_escapes_every_text_from_the_file(saved, tmp_path: Path) -> None:
    rec, _ = _page(saved)
    rec = json.loads(json.dumps(rec))
    rec["nodes"][1]["step"] = HOSTILE
    rec["answer"] = HOSTILE
    rec["problem_text"] = HOSTILE
    page = render_tree_html(rec)
    assert HOSTILE not in page and "<img" not in page and page.count("<script>") == 1
    assert html.escape(HOSTILE) in page
    rec["nodes"][1].update(terminal=True, answer=None)  # a dead end: stuck, no answer
    rec["answer"] = None
    page = render_tree_html(rec)
    assert "ended without an answer" in page and "none (the search ended without one)" in page


def test_chosen_path_follows_repeated_step_texts() -> None:
    nodes = [
        {"id": 0, "parent": None, "step": None, "children": [1, 2]},
        {"id": 1, "parent": 0, "step": "a", "children": []},
        {"id": 2, "parent": 0, "step": "a", "children": [3]},
        {"id": 3, "parent": 2, "step": "b", "children": []},
    ]
    assert chosen_path(nodes, ["a", "b"]) == [0, 2, 3]
    assert chosen_path(nodes, ["a", "zz"]) == [0, 1]
    assert chosen_path(nodes, []) == [0]


def test_show_tree_command(saved, tmp_path: Path, capsys) -> None:
    src = saved[0] / "Game24_beam_b8_s0_p001.json"
    out = tmp_path / "pages" / "beam.html"
    assert main(["show-tree", str(src), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert "Search tree: beam on thinkgym/Game24-v0, budget 8, seed 0" in out.read_text()
    copy = tmp_path / "t.json"
    shutil.copy(src, copy)
    assert write_tree_html(copy) == tmp_path / "t.html" and (tmp_path / "t.html").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"rows": []}', "is not a saved search tree"),
        (
            json.dumps({"format": TREE_FORMAT, "nodes": [{"id": 0, "children": [0]}]}),
            "do not form a tree",
        ),
        (
            json.dumps({"format": TREE_FORMAT, "nodes": [{"id": 0}], "chosen_path": [5]}),
            "chosen_path",
        ),
    ],
)
def test_show_tree_names_bad_files(tmp_path: Path, capsys, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["show-tree", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:  # argparse's one-line error
        main(["show-tree", str(tmp_path / "missing.json")])
    assert exc.value.code == 2 and "no such file" in capsys.readouterr().err


def test_bench_command_save_trees(tmp_path: Path, capsys) -> None:
    argv = [
        "bench", "--policy", "oracle", "--envs", "Game24", "--planners", "beam",
        "--budgets", "4", "--problems", "1", "--out", str(tmp_path), "--quiet", "--no-plot",
        "--no-throughput", "--save-trees",
    ]  # fmt: skip
    assert main(argv) == 0
    assert [p.name for p in (tmp_path / "trees").glob("*.json")] == ["Game24_beam_b4_s0_p000.json"]
    assert "thinkgym show-tree" in capsys.readouterr().err


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    _chromium() is None,
    reason="headless check needs Chromium (Debian: apt-get install -y chromium)",
)
def test_page_renders_in_headless_chromium(saved, tmp_path: Path) -> None:
    """The page opens in a real browser, its script runs, and the rendered text shows the
    tree's steps, edge labels and the chosen path."""
    rec, page = _page(saved)
    path = tmp_path / "tree.html"
    path.write_text(page)
    proc = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    chosen_steps = len(rec["chosen_path"]) - 1
    # written by the page's script from the DOM: it ran in the browser
    assert (
        f"Rendered {len(rec['nodes'])} nodes, "
        f"{max(n['depth'] for n in rec['nodes'])} levels deep; "
        f"the chosen path has {chosen_steps} steps (highlighted)."
    ) in text
    for step in rec["steps"]:
        assert step in text
    assert "N=" in text and "Q=" in text and "answer verified" in text
