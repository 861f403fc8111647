"""``thinkgym play``: run episodes of an env with a scripted agent and show them.

Example::

    thinkgym play --env Game24 --agent oracle --episodes 2
"""

from __future__ import annotations

import argparse

from thinkgym.commands._common import positive_int

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``play`` options to ``parser``."""
    parser.add_argument("--env", nargs="+", default=["all"], help="env ids or short names; 'all'")
    parser.add_argument("--agent", choices=["oracle", "random"], default="oracle")
    parser.add_argument("--episodes", type=positive_int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print only one line per episode")


def run(args: argparse.Namespace) -> int:
    """Play ``--episodes`` episodes per env; prints each transcript and the solve count."""
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
