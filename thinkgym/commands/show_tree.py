"""``thinkgym show-tree``: render a saved search tree as one self-contained HTML page.

The tree files come from ``thinkgym bench --save-trees`` (one JSON file per problem, planner,
budget and seed, under ``OUT/trees/``). The page shows every node as a collapsible line with
its visits (N), mean value (Q), prior (P), guidance score and log-prob on the edge into it, the
chosen path highlighted and open, and needs nothing from the network.

Example::

    thinkgym bench --envs Game24 --planners mcts --budgets 16 --problems 5 --save-trees
    thinkgym show-tree bench_results/trees/Game24_mcts_b16_s0_p000.json --out tree.html
"""

from __future__ import annotations

import argparse

from thinkgym.commands._common import CommandError, existing_file, writable_path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``show-tree`` arguments to ``parser``."""
    parser.add_argument(
        "file", type=existing_file, help="a tree file written by `thinkgym bench --save-trees`"
    )
    parser.add_argument(
        "--out",
        type=writable_path,
        default=None,
        help="the HTML page to write (default: FILE with the suffix .html)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the page and print its path; returns 0."""
    from thinkgym.bench.trees import write_tree_html

    try:
        path = write_tree_html(args.file, args.out)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(path)
    return 0
