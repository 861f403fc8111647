"""``thinkgym play``: solve a problem step by step in the terminal, or watch an agent do it.

With ``--agent human`` (the default) you type one reasoning step per line; the env answers with
the step's reward, or with the reason it rejected the step. Besides steps you can type:

* ``hint``: the policy's top candidate next steps with their log-probs (sampled, merged);
* ``undo``: go back one step;
* ``show``: the transcript so far;
* ``help``; ``quit`` (or end of input).

``--agent policy`` lets the shipped policy (or ``--policy DIR``, a registered name, or
``--policy FILE.py:FACTORY``) play; ``oracle`` follows the task's solver; ``random`` takes random
plausible steps. Input may be piped, one line per step.

Example::

    thinkgym play Game24 --seed 3
    printf '7 + 7 = 14\\nhint\\nundo\\nquit\\n' | thinkgym play Game24 --seed 0
    thinkgym play arithmetic --agent policy --episodes 3
    thinkgym play --agent oracle --quiet          # every env, one line per episode
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from typing import Any

from thinkgym.commands._common import (
    CommandError,
    env_name,
    policy_spec,
    positive_int,
    require_hooks,
    temperature_arg,
)

__all__ = ["add_arguments", "run"]

AGENTS = ("human", "policy", "oracle", "random")
_COMMANDS = "type a step, or: hint, undo, show, help, quit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``play`` options to ``parser``."""
    parser.add_argument(
        "env",
        nargs="*",
        type=env_name,
        metavar="ENV",
        help="env id or short name (case-insensitive); none: every env (scripted agents only)",
    )
    parser.add_argument(
        "--env",
        dest="env_option",
        nargs="+",
        type=env_name,
        default=[],
        metavar="ENV",
        help="the same as the positional ENV",
    )
    parser.add_argument(
        "--agent",
        type=_agent,
        default="human",
        help="who plays: human (you), policy, oracle (the task's solver) or random",
    )
    parser.add_argument(
        "--policy",
        type=policy_spec,
        default="default",
        help="the policy for hints and --agent policy: 'default' (shipped), a model directory, "
        "a registered name (a --plugin may register one) or FILE.py:FACTORY",
    )
    parser.add_argument(
        "--temperature",
        type=temperature_arg,
        default=0.0,
        help="sampling temperature of --agent policy (0: greedy; after a rejected step the "
        "policy samples at temperature 1 at least, so it does not repeat the step)",
    )
    parser.add_argument("--hints", type=positive_int, default=5, help="candidates a hint shows")
    parser.add_argument(
        "--hint-samples", type=positive_int, default=16, help="samples drawn for a hint"
    )
    parser.add_argument("--episodes", type=positive_int, default=1, help="episodes per env")
    parser.add_argument("--seed", type=int, default=0, help="problem seed of the first episode")
    parser.add_argument("--quiet", action="store_true", help="print only one line per episode")


def _agent(text: str) -> str:
    from thinkgym.commands._common import choice

    return choice(*AGENTS)(text)


class _PolicyHolder:
    """Loads the policy once, when first needed (a hint or ``--agent policy``); a policy built
    per env (a factory taking ``env``) is built for each env it plays."""

    def __init__(self, spec: str) -> None:
        from thinkgym.agents.registry import policy_needs_env

        self.spec = spec
        self.per_env = policy_needs_env(spec)
        self._policy: Any = None
        self._env: Any = None

    def check(self) -> None:
        from thinkgym.agents.registry import check_policy_spec

        check_policy_spec(self.spec)

    def get(self, env: Any = None) -> Any:
        from thinkgym.agents.registry import load_policy

        if self.per_env:
            if env is None:
                return None
            if self._env is not env.unwrapped:
                self._policy = load_policy(self.spec, env=env, device="cpu")
                self._env = env.unwrapped
        elif self._policy is None:
            self._policy = load_policy(self.spec, device="cpu")
        return self._policy


def run(args: argparse.Namespace) -> int:
    """Play ``--episodes`` episodes per env; returns 0."""
    import thinkgym

    env_ids = list(args.env) + list(args.env_option)
    if not env_ids:
        if args.agent in ("human", "policy"):
            raise CommandError(
                f"name the env to play, e.g. `thinkgym play Game24 --agent {args.agent}`"
            )
        env_ids = thinkgym.list_envs()
    for env_id in env_ids:
        env = thinkgym.make(env_id)
        try:
            require_hooks(env, ["solve"] if args.agent == "oracle" else [], "--agent oracle")
        finally:
            env.close()
    holder = _PolicyHolder(args.policy)
    holder.check()
    if args.agent == "policy":
        holder.get()  # fail now, not after the first problem is shown
    solved = episodes = 0
    for env_id in env_ids:
        env = thinkgym.make(env_id, render_mode="ansi")
        inner = env.unwrapped
        try:
            for ep in range(args.episodes):
                seed = args.seed + ep
                if args.agent == "human":
                    result = _play_human(inner, env_id, seed, holder, args)
                    if result is None:  # quit
                        if episodes == 0:
                            print("quit before any episode ended: solved 0 of 0 episodes")
                        else:
                            print(f"solved {solved} of {episodes} episodes")
                        return 0
                else:
                    result = _play_agent(inner, env_id, seed, holder, args)
                solved += bool(result)
                episodes += 1
        finally:
            env.close()
    print(f"solved {solved} of {episodes} episodes")
    return 0


def _play_agent(env: Any, env_id: str, seed: int, holder: _PolicyHolder, args: Any) -> bool:
    from thinkgym.agents import OracleAgent, RandomAgent

    obs, info = env.reset(seed=seed)
    if args.agent == "oracle":
        agent: Any = OracleAgent(env)
    elif args.agent == "random":
        agent = RandomAgent(env, seed=seed)
    else:
        agent = holder.get(env)
    if not args.quiet:
        _print(f"== {env_id} seed={seed} agent={args.agent}\n{obs}")
    total, done, t, rejected = 0.0, False, 0, False
    while not done:
        # after a rejected step a greedy policy would write it again: sample instead
        temperature = max(args.temperature, 1.0) if rejected else args.temperature
        prop = agent.propose([obs], 1, temperature=temperature, seed=seed * 1000 + t)[0][0]
        obs, reward, terminated, truncated, info = env.step(prop.text)
        rejected = bool(info["error"])
        total += float(reward)
        done = terminated or truncated
        t += 1
        if not args.quiet:
            lp = f"  log-prob {prop.logprob:.2f}" if args.agent == "policy" else ""
            verdict = f"rejected: {info['error']}" if info["error"] else "ok"
            _print(f"{args.agent}> {prop.text}    [{verdict}, reward {reward:+.2f}{lp}]")
    correct = bool(info.get("correct"))
    status = "solved" if correct else ("out of steps" if not env.get_state().done else "wrong")
    print(f"== {env_id} seed={seed} agent={args.agent} {status} return={total:+.2f}")
    return correct


def escape(text: str) -> str:
    """``text`` safe to write to a terminal: control and format characters (``ESC[2J``, OSC
    titles, bidi overrides, ...) are shown as ``\\x1b``-style escapes; newlines and tabs stay."""
    out = []
    for ch in text:
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs"):
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _print(*parts: Any, end: str = "\n", flush: bool = False) -> None:
    """``print`` with every part escaped (text from the player or the env may hold control bytes)."""
    print(*(escape(str(p)) for p in parts), end=end, flush=flush)


_PUSHED: list[str] = []  # a line read ahead (after an episode) that belongs to the next prompt


def _read_line(prompt: str) -> str | None:
    _print(prompt, end="", flush=True)
    if _PUSHED:
        line = _PUSHED.pop()
    else:
        line = sys.stdin.readline()
    if not line:
        print()
        return None
    if not sys.stdin.isatty():
        _print(line.rstrip("\n"))  # piped input: show it, so the output reads as a session
    return line.strip()


def _play_human(env: Any, env_id: str, seed: int, holder: _PolicyHolder, args: Any) -> bool | None:
    """One episode at the terminal: True/False solved, ``None`` when the player quit."""
    obs, info = env.reset(seed=seed)
    _print(f"== {env_id} seed={seed}\n{obs}\n({_COMMANDS})")
    history: list[tuple[Any, float]] = []  # (state before the step, return before it)
    total = 0.0
    while True:
        line = _read_line("step> ")
        if line is None or line.lower() in ("quit", "exit", "q"):
            _print(f"== {env_id} seed={seed}: stopped, return={total:+.2f}")
            return None
        if not line:
            continue
        word = line.lower()
        if word in ("help", "?"):
            print(f"  {_COMMANDS}\n  a step looks like the lines above it; 'Answer: ...' ends")
            continue
        if word == "show":
            _print(env.transcript())
            continue
        if word == "undo":
            if not history:
                print("  nothing to undo")
                continue
            state, total = history.pop()
            env.set_state(state)
            _print(f"  undone; now:\n{env.transcript()}")
            continue
        if word == "hint":
            _hint(env, holder, args, seed + len(history))
            continue
        history.append((env.get_state(), total))
        obs, reward, terminated, truncated, info = env.step(line)
        total += float(reward)
        wrong = terminated and info.get("correct") is False
        if wrong:  # a final answer that is not right: wrong, not rejected
            why = f": {info['error']}" if info["error"] else ""
            _print(f"  wrong{why}  (reward {reward:+.2f}; `undo` takes it back)")
        elif info["error"]:
            _print(f"  rejected: {info['error']}  (reward {reward:+.2f}; `undo` takes it back)")
        else:
            last = obs.splitlines()[-1] if obs else ""
            shown = f"  ->  {last}" if last.strip() != line.strip() else ""
            _print(f"  ok, reward {reward:+.2f}{shown}")
        if terminated or truncated:
            correct = bool(info.get("correct"))
            status = "solved!" if correct else ("wrong answer" if terminated else "out of steps")
            _print(f"== {status} return={total:+.2f} in {len(history)} steps\n{env.transcript()}")
            if correct:
                return True
            if not _undo_after_end():
                return False
            state, total = history.pop()
            env.set_state(state)
            _print(f"  undone; now:\n{env.transcript()}")


def _undo_after_end() -> bool:
    """After a lost episode: ``undo`` takes the last step back; an empty line goes on; any other
    line is kept for the next prompt (piped steps of the next episode are not swallowed)."""
    prompt = "episode over: `undo` to go back, Enter to go on> "
    if sys.stdin.isatty():
        again = _read_line(prompt)
        return again is not None and again.lower() == "undo"
    line = sys.stdin.readline()  # piped: look at the next line without showing a prompt
    if line.strip().lower() == "undo":
        _print(f"{prompt}undo")
        return True
    if line.strip():
        _PUSHED.append(line)
    elif line:
        _print(prompt)
    return False


def _hint(env: Any, holder: _PolicyHolder, args: Any, seed: int) -> None:
    try:
        policy = holder.get(env)
    except (OSError, ValueError, TypeError) as exc:
        _print(f"  no hint: {' '.join(str(exc).split())}")
        return
    props = policy.propose(
        [env.transcript()], args.hint_samples, temperature=1.0, merge_duplicates=True, seed=seed
    )[0]
    props = sorted(props, key=lambda p: p.logprob, reverse=True)[: args.hints]
    print(f"  the policy's top candidates ({args.hint_samples} samples; log-prob, count):")
    for p in props:
        _print(f"    {p.logprob:8.2f}  {p.count:>3}x  {p.text}")
