"""``thinkgym export``: traces and search results as Hugging Face datasets in TRL's formats.

Kinds (``--kind``):

* ``sft``: prompt-completion records for TRL's ``SFTTrainer`` (per step, or per trajectory);
* ``dpo``: preference pairs for ``DPOTrainer``: chosen vs rejected sibling steps at the same
  search-tree node (needs search results: ``--planner`` or ``--results``);
* ``prm``: stepwise supervision (prompt, completions, labels), TRL's PRM data format.

Sources: the task's reference solver on ``--problems`` training problems (default), saved traces
(``--traces FILE``), saved search results (``--results FILE``, JSON lines of
``SearchResult.to_json()``), or a search run here (``--planner NAME`` with ``--policy``).
Search results are scored against the hidden reference only after search, to label the data.

The output (``--out``) is a ``save_to_disk`` directory (``--format disk``, load it with
``datasets.load_from_disk``), a JSON lines file or a Parquet file (``datasets.load_dataset``).
Needs ``pip install thinkgym[datasets]``.

Example::

    thinkgym export --env MathWord --kind sft --problems 200 --out data/mathword-sft
    thinkgym export --env Arithmetic --kind dpo --planner beam --budget 16 --problems 50 \\
        --out data/arith-dpo.jsonl --format jsonl
    thinkgym export --env MathWord --env-kwargs '{"data_files": "my_problems.jsonl"}' \\
        --problems 40 --out data/mine-sft.jsonl --format jsonl

``--problems`` beyond what a finite data file holds is refused (it would repeat problems).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from thinkgym.commands._common import (
    CommandError,
    check_env_kwargs,
    choice,
    env_name,
    existing_file,
    policy_spec,
    positive_int,
    require_hooks,
    writable_path,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``thinkgym export``."""
    parser.add_argument(
        "--env", type=env_name, required=True, help="env id or short name, e.g. MathWord"
    )
    parser.add_argument(
        "--kind",
        type=choice("sft", "dpo", "prm"),
        default="sft",
        help="what to export: sft, dpo or prm",
    )
    parser.add_argument(
        "--env-kwargs",
        type=_json_dict,
        default={},
        metavar="JSON",
        help='keyword arguments of the env, e.g. \'{"data_files": "my.jsonl"}\' or '
        "'{\"difficulty\": 2}' (checked before any work)",
    )
    parser.add_argument(
        "--out",
        type=writable_path,
        required=True,
        help="output directory (disk) or file (jsonl, parquet)",
    )
    parser.add_argument(
        "--format",
        type=choice("disk", "jsonl", "parquet"),
        default="disk",
        help="disk (save_to_disk), jsonl or parquet",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--traces",
        type=existing_file,
        default=None,
        help="saved traces (JSON lines, from thinkgym.learning.traces.save_traces)",
    )
    source.add_argument(
        "--results",
        type=existing_file,
        default=None,
        help="saved search results (JSON lines of SearchResult.to_json())",
    )
    source.add_argument(
        "--planner",
        default=None,
        help="run this planner (beam, mcts, best_of_n, ...) with --policy and export its results",
    )
    parser.add_argument(
        "--problems",
        type=positive_int,
        default=100,
        help="training problems to solve or search (reference solver or --planner)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="first problem seed (training seeds only)"
    )
    parser.add_argument(
        "--policy",
        type=policy_spec,
        default="default",
        help="with --planner: 'default' (the shipped policy), a local model directory, a "
        "registered name (random, oracle, a --plugin's) or FILE.py:FACTORY",
    )
    parser.add_argument(
        "--budget",
        type=positive_int,
        default=16,
        help="with --planner: policy calls (generated steps) per problem",
    )
    parser.add_argument(
        "--granularity",
        type=choice("step", "trajectory"),
        default="step",
        help="sft: one record per step or per trajectory",
    )
    parser.add_argument(
        "--include-wrong",
        action="store_true",
        help="sft: keep search results whose answer is wrong",
    )
    parser.add_argument(
        "--max-pairs-per-node",
        type=positive_int,
        default=4,
        help="dpo: most pairs taken at one tree node",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show the datasets library's progress bars while writing and reading back",
    )


def _json_dict(text: str) -> dict[str, Any]:
    """argparse type: a JSON object."""
    from thinkgym.commands._rl import json_dict

    return json_dict(text)


def _finite_problems(env: Any) -> int | None:
    """How many training problems a finite data source holds (``None``: drawn without end)."""
    problems = getattr(env, "problems", None)
    if isinstance(problems, (list, tuple)):
        return len({env.problem_key(p) for p in problems})
    return None


def _check_problem_count(args: argparse.Namespace, env: Any) -> None:
    """Refuse ``--problems`` beyond what a finite file holds (seeds past it repeat problems)."""
    if args.traces is not None or args.results is not None:
        return
    held = _finite_problems(env)
    if held is not None and args.problems > held:
        raise CommandError(
            f"--problems {args.problems}: the data holds {held} distinct training problems; pass "
            f"--problems {held} or fewer (more would repeat problems)"
        )


# file suffixes that name a format: an --out with one of these must match --format
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def _check_out(out: Path, fmt: str) -> None:
    """Refuse an ``--out`` whose suffix names another format than ``--format``."""
    named = _SUFFIX_FORMATS.get(out.suffix.lower())
    if named is not None and named != fmt:
        raise CommandError(
            f"--out {out} looks like a {named} file but --format is {fmt}: pass "
            f"--format {named}, or an --out that matches --format {fmt}"
            + (" (a directory name without a suffix)" if fmt == "disk" else "")
        )


def _sources(args: argparse.Namespace, env: Any) -> list[Any]:
    from thinkgym.learning.export import load_results
    from thinkgym.learning.traces import load_traces, make_traces

    if args.traces is not None:
        return list(load_traces(args.traces))
    if args.results is not None:
        return load_results(args.results, env)
    if args.planner is None:
        kwargs = dict(args.env_kwargs)
        difficulty = kwargs.pop("difficulty", None)
        traces = list(
            make_traces(
                args.env, args.problems, seed=args.seed, difficulty=difficulty, env_kwargs=kwargs
            )
        )
        distinct = len({t.head for t in traces})
        if _finite_problems(env) is not None and distinct < args.problems:  # held-out rows left
            raise CommandError(
                f"--problems {args.problems}: only {distinct} distinct training problems came "
                f"up; pass --problems {distinct} or fewer (more would repeat problems)"
            )
        return traces
    from thinkgym.agents.registry import load_policy
    from thinkgym.search import make_planner, score_result

    policy = load_policy(args.policy, env=env, seed=args.seed)
    try:
        planner = make_planner(args.planner, policy=policy, budget=args.budget)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from None
    seeds = list(range(args.seed, args.seed + args.problems))
    results = planner.plan_many(env, seeds=seeds, problems=[None] * len(seeds))
    for r in results:
        score_result(env, r)
    solved = sum(bool(r.correct) for r in results)
    print(
        f"searched {len(results)} problems with {args.planner} (budget {args.budget}): {solved} solved"
    )
    return results


def run(args: argparse.Namespace) -> int:
    """Build the records, write the dataset, print what was written."""
    _check_out(args.out, args.format)
    env_kwargs = dict(getattr(args, "env_kwargs", None) or {})
    if env_kwargs.get("split", "train") != "train":
        raise CommandError(
            f"--env-kwargs: split={env_kwargs['split']!r}: exported training data comes from "
            "the 'train' split only"
        )
    env_kwargs.pop("split", None)
    args.env_kwargs = env_kwargs
    check_env_kwargs(args.env, {**env_kwargs, "split": "train"})
    from thinkgym.learning.export import _datasets

    datasets = _datasets()  # fails early, naming the extra to install, without datasets
    was_enabled = datasets.is_progress_bar_enabled()
    if not args.progress:
        datasets.disable_progress_bars()
    try:
        return _run(args)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _run(args: argparse.Namespace) -> int:
    from thinkgym.envs import make
    from thinkgym.learning.export import (
        load_dataset_file,
        preference_records,
        prm_records,
        save_dataset,
        sft_records,
        to_dataset,
    )
    from thinkgym.search import SearchResult

    env = make(args.env, **args.env_kwargs, split="train").unwrapped
    if args.traces is None and args.results is None and args.planner is None:
        require_hooks(
            env, ["solve"], "exporting reference traces (no --traces/--results/--planner)"
        )
    _check_problem_count(args, env)
    sources = _sources(args, env)
    if args.kind == "sft":
        records = sft_records(
            sources, env, granularity=args.granularity, only_correct=not args.include_wrong
        )
    elif args.kind == "dpo":
        results = [s for s in sources if isinstance(s, SearchResult)]
        if not results:
            raise CommandError(
                "--kind dpo needs search results: pass --planner NAME or --results FILE"
            )
        records = preference_records(results, env, max_pairs_per_node=args.max_pairs_per_node)
    else:
        records = prm_records(sources, env)
    if not records:
        why = {
            "sft": "no correct trajectory was found (--include-wrong keeps wrong ones)",
            "dpo": "no tree node had both a correct and a wrong continuation; search more "
            "problems or with a larger --budget",
            "prm": "no search reached a final answer or the step limit",
        }[args.kind]
        raise CommandError(f"no {args.kind} records from {len(sources)} source(s): {why}")
    path = save_dataset(to_dataset(records), args.out, args.format)
    back = load_dataset_file(path, args.format)
    print(
        f"wrote {len(back)} {args.kind} records ({', '.join(back.column_names)}) from "
        f"{len(sources)} source(s) to {path} ({args.format})"
    )
    return 0
