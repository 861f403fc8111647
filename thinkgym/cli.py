"""The ``thinkgym`` command: ``list``, ``play``, ``bench`` and ``train``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def _cmd_list(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import thinkgym

    for env_id in thinkgym.list_envs():
        spec = gym.spec(env_id)
        entry = spec.entry_point if isinstance(spec.entry_point, str) else spec.entry_point.__name__
        print(f"{env_id:32s} {entry}")
    return 0


def _cmd_play(args: argparse.Namespace) -> int:
    import thinkgym
    from thinkgym.agents import OracleAgent, RandomAgent

    env_ids = thinkgym.list_envs() if args.env == ["all"] else args.env
    solved = 0
    for env_id in env_ids:
        env = thinkgym.make(env_id, render_mode="ansi")
        for ep in range(args.episodes):
            seed = args.seed + ep
            agent = OracleAgent(env) if args.agent == "oracle" else RandomAgent(env, seed=seed)
            obs, info = env.reset(seed=seed)
            done = False
            total = 0.0
            while not done:
                step = agent.act(obs, info)
                obs, reward, terminated, truncated, info = env.step(step)
                total += float(reward)
                done = terminated or truncated
                if info["error"] and not args.quiet:
                    print(f"  rejected {step!r}: {info['error']}")
            solved += bool(info.get("correct"))
            print(f"== {env_id} seed={seed} agent={args.agent} return={total:+.2f}")
            if not args.quiet:
                print(env.render())
        env.close()
    print(f"solved {solved} of {len(env_ids) * args.episodes} episodes")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``thinkgym`` command."""
    parser = argparse.ArgumentParser(
        prog="thinkgym",
        description="Reasoning tasks as Gymnasium environments: play, train, search, benchmark.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the registered environments")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("play", help="run scripted episodes (oracle or random agent) and show them")
    p.add_argument("--env", nargs="+", default=["all"], help="env ids or short names; 'all'")
    p.add_argument("--agent", choices=["oracle", "random"], default="oracle")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="print only one line per episode")
    p.set_defaults(func=_cmd_play)

    try:
        from thinkgym.agents.search.bench import add_bench_arguments, run_bench
    except ImportError:  # pragma: no cover - the search package is part of the distribution
        add_bench_arguments = run_bench = None  # type: ignore[assignment]
    if add_bench_arguments is not None:
        p = sub.add_parser(
            "bench", help="benchmark search planners: solve rate against compute (scaling curve)"
        )
        add_bench_arguments(p)
        p.set_defaults(func=run_bench)

    try:
        from thinkgym.learning.cli import add_train_arguments, run_train
    except ImportError:  # pragma: no cover
        add_train_arguments = run_train = None  # type: ignore[assignment]
    if add_train_arguments is not None:
        p = sub.add_parser("train", help="train policies (sft)")
        add_train_arguments(p)
        p.set_defaults(func=run_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``thinkgym`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"thinkgym {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
