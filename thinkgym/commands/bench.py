"""``thinkgym bench``: benchmark search planners: solve rate against compute (scaling curve).

Every planner x budget of an env runs at once (their policy calls are batched together); greedy
runs once. Writes ``results.md``, ``results.csv``, ``results.json`` and ``scaling.png`` under
``--out`` and prints the table. Each row names the guidance that ranked the candidates and
whether the reference-free answer check was on during search (``--no-answer-check`` switches it
off, so planners choose answers by their guidance alone; ``--no-step-check`` does the same for
the reference-free step check, and each row says which checks were on). ``--seeds 0,1,2`` runs the bench once
per seed (the seed changes only the sampling) and reports each seed's rows, their mean with the
spread over the seeds, and which planner wins at each budget.

Example::

    thinkgym bench --envs Game24 --planners greedy,best_of_n,beam,mcts --budgets 4,16
    thinkgym bench --envs Game24 --budgets 100 --prm runs/rm/prm_game24 --no-answer-check
    thinkgym bench --envs Game24 --prm game24 --no-answer-check --no-step-check  # guidance only
    thinkgym bench --envs Game24 --budgets 4,16 --seeds 0,1,2   # mean (min-max) over 3 seeds
    thinkgym bench --envs Game24 --planners mcts --budgets 16 --save-trees  # then show-tree
    thinkgym bench --plugin examples/custom_planner.py --planners retry_greedy --policy random
    thinkgym bench --envs Game24 --backend ray --workers 2        # problems sharded over Ray
    thinkgym bench --envs Game24 --backend ray --address auto    # on a running Ray cluster
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinkgym.commands._common import (
    CommandError,
    existing_dir,
    policy_spec,
    positive_float,
    positive_int,
    temperature_arg,
    warn,
    writable_dir,
)

if TYPE_CHECKING:
    from thinkgym.bench import BenchConfig

__all__ = ["add_arguments", "run", "config_from_args"]

DEFAULT_PLANNERS = "greedy,best_of_n,beam,mcts,revision"


def _names(text: str) -> list[str]:
    """argparse type: a comma-separated list of names (at least one, no empty item)."""
    names = [t.strip() for t in text.split(",")]
    if not any(names):
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give comma-separated names")
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty item; separate the values by single commas, e.g. a,b"
        )
    return names


def _budgets(text: str) -> list[int]:
    """argparse type: comma-separated positive integers, sorted and deduplicated."""
    return sorted({positive_int(t.strip()) for t in _names(text)})


def _seeds(text: str) -> list[int]:
    """argparse type: comma-separated distinct seeds >= 0 (e.g. ``0,1,2``)."""
    from thinkgym.bench import parse_seeds

    parts = [t.strip() for t in text.split(",")]
    if any(parts) and not all(parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty item; give comma-separated seeds, e.g. 0,1,2"
        )
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _reward_model(text: str) -> str:
    """argparse type: a shipped reward-model name (``game24``, ``default``) or a directory."""
    from thinkgym.bench.run import SHIPPED_REWARD_MODELS

    if text in SHIPPED_REWARD_MODELS or text == "default":
        return text
    return str(existing_dir(text))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to ``parser``."""
    parser.add_argument("--envs", type=_names, default="Game24,Arithmetic", help="env names")
    parser.add_argument(
        "--planners",
        type=_names,
        default=DEFAULT_PLANNERS,
        help="comma-separated planner names ('greedy' = pass@1 baseline); `thinkgym list` "
        "shows the registered ones",
    )
    parser.add_argument(
        "--budgets",
        type=_budgets,
        default="4,16,64",
        help="policy calls (generated steps) per problem, comma-separated",
    )
    parser.add_argument("--problems", type=positive_int, default=20, help="problems per env")
    parser.add_argument(
        "--policy",
        type=policy_spec,
        default="default",
        help="'default' (the shipped LLMPolicy), a model directory, 'random', 'oracle', a name "
        "registered by a --plugin, or FILE.py:FACTORY",
    )
    parser.add_argument(
        "--prm",
        type=_reward_model,
        default=None,
        help="the PRM: a LearnedRewardModel directory, 'game24' (the shipped Game24 PRM) or "
        "'default' (the shipped PRM of the envs' task)",
    )
    parser.add_argument(
        "--orm",
        type=existing_dir,
        default=None,
        help="LearnedRewardModel directory: the ORM (guidance when no --prm is given)",
    )
    parser.add_argument("--temperature", type=temperature_arg, default=1.0)
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the planners' seed (default 0); --seeds runs several",
    )
    parser.add_argument(
        "--seeds",
        type=_seeds,
        default=None,
        help="comma-separated seeds, run in turn with everything else the same (e.g. 0,1,2): "
        "per-seed rows plus the mean, min-max and standard deviation over the seeds",
    )
    parser.add_argument(
        "--no-answer-check",
        action="store_true",
        help="switch the env's reference-free answer check off during search (Game24: the "
        "check is the grader itself); planners then pick answers by guidance alone",
    )
    parser.add_argument(
        "--no-step-check",
        action="store_true",
        help="switch the env's reference-free step check off during search: every well-formed "
        "step is taken as claimed (a false step stays in the transcript), so planners have "
        "their guidance only; scoring after search is unchanged",
    )
    parser.add_argument("--out", type=writable_dir, default="bench_results", help="output dir")
    parser.add_argument("--x", choices=("tokens", "policy_calls"), default="tokens")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the batch-64 generate reference"
    )
    parser.add_argument(
        "--save-trees",
        action="store_true",
        help="write each problem's search tree (steps, priors, values, visits, the chosen path) "
        "as JSON under OUT/trees/; `thinkgym show-tree FILE` renders one as an HTML page",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars or progress lines on stderr"
    )
    parser.add_argument(
        "--batch-rows",
        type=positive_int,
        default=None,
        help="most rows (observations x samples) per forward batch of the LLM policy (default: "
        "64 on a CPU, 4096 on a GPU)",
    )
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="'local': this process; 'ray': each env's problems sharded over Ray workers, each "
        "loading the policy once (pip install 'thinkgym[ray]')",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="Ray workers (--backend ray; default: one per CPU of the Ray cluster)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join ('auto' or host:port, after `ray start --head`; --backend ray; "
        "default: start Ray on this machine)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="--address: give up when the Ray cluster does not answer within this many seconds",
    )
    parser.add_argument(
        "--shards",
        type=positive_int,
        default=None,
        help="cut each env's problems into this many shards (default: all in one batch locally, "
        "one shard per Ray worker); the same shards give the same results on either backend",
    )


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The :class:`~thinkgym.bench.BenchConfig` of parsed ``bench`` arguments."""
    from thinkgym.bench import BenchConfig

    seed, seeds = getattr(args, "seed", None), getattr(args, "seeds", None)
    if seed is not None and seeds is not None:
        raise CommandError(
            f"--seed {seed} and --seeds {','.join(map(str, seeds))} both given; use --seed N for "
            "one seed or --seeds 0,1,2 for several"
        )
    if isinstance(seeds, str):  # a default set programmatically skips the argparse type
        seeds = _seeds(seeds)
    if seeds is not None and len(seeds) == 1:
        seed, seeds = seeds[0], None
    return BenchConfig(
        envs=_as_list(args.envs),
        planners=_as_list(args.planners),
        budgets=args.budgets if isinstance(args.budgets, list) else _budgets(args.budgets),
        problems=args.problems,
        policy=args.policy,
        prm=str(args.prm) if args.prm is not None else None,
        orm=str(args.orm) if args.orm is not None else None,
        temperature=args.temperature,
        seed=(seeds[0] if seeds else 0) if seed is None else seed,
        seeds=seeds,
        answer_check=not args.no_answer_check,
        step_check=not getattr(args, "no_step_check", False),
        batch_rows=args.batch_rows,
        throughput=not args.no_throughput,
        progress=not args.quiet,
        shards=getattr(args, "shards", None),
    )


def _check_hooks(config: BenchConfig) -> None:
    """Refuse, before any work, an env whose task lacks a hook this bench needs."""
    from thinkgym.commands._common import require_hooks
    from thinkgym.envs import make

    # scripted policies read each observation back into a state: parse_problem; the oracle
    # follows the solver
    hooks = {"random": ["parse_problem"], "oracle": ["parse_problem", "solve"]}
    spec = config.policy if isinstance(config.policy, str) else ""
    for env_id in config.envs:
        env = make(env_id)
        try:
            require_hooks(env, hooks.get(spec, []), f"--policy {spec}")
        finally:
            env.close()


def _backend(args: argparse.Namespace) -> Any:
    """The :mod:`thinkgym.distributed` backend of ``--backend`` (``None``: one local batch)."""
    name = getattr(args, "backend", "local")
    workers, address = getattr(args, "workers", None), getattr(args, "address", None)
    if name == "local":
        if workers is not None or address is not None:
            raise CommandError("--workers and --address need --backend ray")
        return None if getattr(args, "shards", None) is None else _make_backend("local")
    timeout = getattr(args, "connect_timeout", 30.0)
    try:
        return _make_backend(name, workers=workers, address=address, connect_timeout=timeout)
    except (ImportError, ValueError) as exc:
        raise CommandError(f"--backend {name}: {exc}") from None


def _make_backend(name: str, **kwargs: Any) -> Any:
    from thinkgym.distributed import make_backend

    return make_backend(name, **kwargs)


def _as_list(value: list[str] | str) -> list[str]:
    # argparse applies ``type`` to string defaults too, but not to defaults set programmatically
    return value if isinstance(value, list) else _names(value)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, write the results and print the table; returns 0."""
    from thinkgym.bench import run_benchmark, write_results
    from thinkgym.commands._common import env_name

    config = config_from_args(args)
    try:
        config.envs = [env_name(e) for e in config.envs]
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"--envs: {exc}") from None
    _check_hooks(config)
    backend = _backend(args)
    try:
        if backend is not None and backend.name == "ray":
            try:
                backend.start()
            except (ValueError, RuntimeError, ConnectionError) as exc:
                raise CommandError(f"--backend ray: {exc}") from None
            print(
                f"[bench] ray: {backend.workers} workers started in "
                f"{backend.startup_seconds:.1f} s",
                file=sys.stderr,
            )
        from thinkgym.distributed import BackendError, ShardError

        try:
            trees = Path(args.out) / "trees" if getattr(args, "save_trees", False) else None
            report = run_benchmark(config, backend=backend, save_trees=trees)
        except (ShardError, BackendError) as exc:
            raise CommandError(str(exc)) from None
        if backend is not None:
            print(
                f"[bench] {backend.name}: {report.seconds:.2f} s of search on {backend.workers} "
                f"worker(s), {config.shards or backend.workers} shard(s) per env",
                file=sys.stderr,
            )
    finally:
        if backend is not None:
            backend.close()
    # the command line goes into results.json (not when main() was called from Python with
    # other arguments than this process's)
    report.argv = list(sys.argv) if "bench" in sys.argv[1:] else None
    try:
        paths = write_results(report, args.out, plot=not args.no_plot, x=args.x)
    except ImportError as exc:
        warn(f"{exc}; the tables are written")
        paths = write_results(report, args.out, plot=False)
    from thinkgym.bench import summary_table

    print(summary_table(report))
    if report.throughput:
        print(report.throughput)
    names = ", ".join(p.name for p in paths)
    print(
        f"wrote {args.out}/: {names} ({report.seconds:.0f} s of search); results.md explains "
        "the columns, results.json records every setting and the command to rerun it",
        file=sys.stderr,
    )
    if getattr(args, "save_trees", False):
        trees = sorted((Path(args.out) / "trees").glob("*.json"))
        if trees:
            print(
                f"wrote {len(trees)} search trees to {args.out}/trees/; render one with "
                f"`thinkgym show-tree {trees[0]}`",
                file=sys.stderr,
            )
    return 0
