"""Train the learned guidance of the search figures from Monte-Carlo rollout labels of a policy.

Math-Shepherd (Wang et al., 2023): sample trajectories with the policy (temperature 1), label
every step prefix with ``k`` rollouts of the *same* policy (hard label: some rollout reaches a
correct answer; soft: the share that does), and train a reward model on the labels. No exact
solver is used anywhere: the labels say what this policy can reach from a step, not what a
solver can.

* ``OUT/prm_game24``: a PRM on Game24 *train* puzzles (``split="train"``; the 100 test puzzles of
  :func:`thinkgym.envs.game24.test_puzzles` are never drawn, checked).
* ``OUT/prm_arithmetic`` and ``OUT/orm_arithmetic``: a PRM and an ORM on Arithmetic at
  difficulty 4 (the setting of the figures), on problems of the ``train`` split (every
  evaluation set of the project is drawn from the ``test`` split: :mod:`thinkgym.envs.splits`). The ORM label is whether the final answer is correct per the env's
  ``check_answer`` (it uses the hidden reference: fine for training data).
* ``OUT/summary.json``: counts, label balance and held-out ROC AUC of each model (a share of the
  problems is held out of training; AUC of PRM step scores against hard labels, of ORM scores
  against correctness).

Run (about 5-8 minutes on 2 CPU cores with a ~4M-parameter policy)::

    python benchmarks/train_reward_models.py --out runs/reward_models

then ``python benchmarks/search.py --figures --rm-dir runs/reward_models`` (Game24 PRM for the
Game24 table, Arithmetic PRM/ORM for the best-of-N table).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ARITH_TRAIN_SEED = 2_000_000
"""First Arithmetic training seed (plus ``50_000 * --seed``)."""
GAME24_TRAIN_SEED = 0


def _log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------- policy and problems
def load_policy(
    spec: str | None, device: str, seed: int = 0, batch_rows: int | None = None
) -> tuple[Any, str]:
    """A factory ``env -> policy`` and a label.

    ``spec``: ``None``/``"default"`` (``LLMPolicy.default()``), a folder
    (``LLMPolicy.from_pretrained``), or ``"random"`` (``RandomAgent``: the task's random steps,
    for smoke tests; no solver).
    """
    if spec == "random":
        from thinkgym.agents.base import RandomAgent

        return (lambda env: RandomAgent(env, seed=seed)), "random (RandomAgent)"
    from thinkgym.agents.llm import LLMPolicy

    if spec in (None, "default"):
        policy = LLMPolicy.default(device=device, max_batch_rows=batch_rows)
        label = "LLMPolicy.default()"
    else:
        policy = LLMPolicy.from_pretrained(spec, device=device, max_batch_rows=batch_rows)
        label = str(spec)
    n_params = sum(p.numel() for p in policy.model.parameters())
    return (lambda env: policy), f"{label} ({n_params / 1e6:.2f}M parameters, {policy.device})"


def game24_problems(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct Game24 train puzzles, drawn round-robin from the 4 difficulty quartiles."""
    from thinkgym.agents.base import unwrap_env
    from thinkgym.envs import make
    from thinkgym.envs.game24 import test_puzzles

    held = set(test_puzzles())
    envs = [unwrap_env(make("Game24", difficulty=d, split="train")) for d in range(4)]
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, ...]] = set()
    s = GAME24_TRAIN_SEED + 100_000 * seed
    while len(out) < count:
        env = envs[s % 4]
        env.reset(seed=s)
        s += 1
        problem = env.get_state().problem
        key = tuple(sorted(problem["numbers"]))
        assert key not in held, f"Game24 train split drew test puzzle {key}"
        if key in seen:
            if len(seen) >= 1000 and s > 100 * count:  # pragma: no cover - far beyond sizes used
                raise RuntimeError("ran out of distinct Game24 train puzzles")
            continue
        seen.add(key)
        out.append({"options": {"numbers": list(problem["numbers"])}})
    return out


def arithmetic_problems(env: Any, count: int, seed: int, figure_problems: int) -> list[dict]:
    """``count`` Arithmetic training problems: drawn from the ``train`` split, so none is an
    evaluation problem of the figures (:func:`thinkgym.envs.eval_problems` draws from ``test``).

    ``figure_problems`` is kept for the command line; the split does not depend on it. Problems
    are pinned (``{"options": {"problem": ...}}``), so the env's own split setting does not
    matter.
    """
    from thinkgym.agents.base import unwrap_env
    from thinkgym.envs import is_held_out, make

    inner = unwrap_env(env)
    kwargs = {"difficulty": inner.difficulty, "split": "train"}
    train_env = unwrap_env(make("Arithmetic", **kwargs))
    out: list[dict[str, Any]] = []
    s = ARITH_TRAIN_SEED + 50_000 * seed
    while len(out) < count:
        train_env.reset(seed=s)
        s += 1
        problem = train_env.get_state().problem
        assert not is_held_out(train_env.format_problem(problem)), problem
        out.append({"options": {"problem": problem}})
    return out


# ---------------------------------------------------------------------- sampling and labels
def sample(env: Any, policy: Any, problems: list[dict], samples: int, limit: int, desc: str):
    """``samples`` trajectories per problem with the policy at temperature 1.

    All live trajectories advance together: one batched ``propose`` call per step level.

    Returns:
        per problem, a list of ``(final_state, correct)``: ``correct`` says whether the final
        answer is right per the env's ``check_answer`` (``False`` without an answer).
    """
    from tqdm.auto import tqdm

    from thinkgym.envs.base import answer_text, is_answer
    from thinkgym.learning.mc_labels import _EXPECTED, _track

    starts = []
    for kw in problems:
        env.reset(**kw)
        state = env.get_state()
        _track(policy, state)
        starts.append(state)
    states = [starts[i] for i in range(len(problems)) for _ in range(samples)]
    finals: list[Any] = [None] * len(states)
    active = list(range(len(states)))
    bar = tqdm(total=len(states), desc=desc, leave=False)
    while active:
        proposals = policy.propose([env.transcript(states[i]) for i in active], 1)
        still = []
        for i, props in zip(active, proposals, strict=True):
            step = props[0].text if props else ""
            nxt, ok, _ = env.apply(states[i], step)
            if ok and nxt.done:
                try:
                    good = is_answer(step) and bool(
                        env.check_answer(states[i], answer_text(step))[0]
                    )
                except _EXPECTED:
                    good = False
                finals[i] = (nxt, good)
                bar.update(1)
            elif nxt.t >= limit:
                finals[i] = (nxt, False)
                bar.update(1)
            else:
                still.append(i)
            states[i] = nxt
        active = still
    bar.close()
    return [finals[i * samples : (i + 1) * samples] for i in range(len(problems))]


def split_holdout(n: int, frac: float) -> int:
    """How many of ``n`` problems go to the held-out split (at least 1 when n >= 2)."""
    if n < 2 or frac <= 0:
        return 0
    return min(n - 1, max(1, round(n * frac)))


def label_stats(labeled: list[Any]) -> dict[str, Any]:
    """Counts and label balance of MC-labeled trajectories."""
    steps = sum(len(t.steps) for t in labeled)
    hard = sum(sum(t.hard) for t in labeled)
    soft = sum(sum(t.soft) for t in labeled)
    return {
        "trajectories": len(labeled),
        "steps": steps,
        "hard_positive_share": hard / steps if steps else None,
        "soft_mean": soft / steps if steps else None,
        "correct_trajectories": sum(t.correct for t in labeled),
    }


def auc_or_none(scores: list[float], labels: list[bool]) -> float | None:
    """ROC AUC, or ``None`` when one class is missing (NaN scores are dropped)."""
    import math

    from thinkgym.learning.mc_labels import roc_auc

    pairs = [(s, y) for s, y in zip(scores, labels, strict=True) if not math.isnan(s)]
    try:
        return roc_auc([s for s, _ in pairs], [y for _, y in pairs])
    except ValueError:
        return None


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _fit(
    kind: str, examples: list[Any], env: Any, args: argparse.Namespace, policy: Any = None
) -> Any:
    """A reward model of ``kind`` trained on ``examples`` with the CLI's settings: a fresh tiny
    model (``--init scratch``) or the policy's transformer with a new head (``--init policy``)."""
    from thinkgym.learning.reward_models import train_reward_model
    from thinkgym.rewards import LearnedRewardModel

    common = {"kind": kind, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr}
    common.update(seed=args.seed, problem_lines=env.problem_line_count)
    if args.init == "policy" and hasattr(policy, "model"):
        start = LearnedRewardModel.from_policy(
            policy, kind=kind, seed=args.seed, problem_lines=env.problem_line_count
        )
        return train_reward_model(start, examples, **common)
    return train_reward_model(
        None,
        examples,
        **common,
        hidden_size=args.hidden,
        layers=args.layers,
        max_positions=args.max_positions,
    )


def train_prm(
    name: str,
    env: Any,
    policy: Any,
    trajectories: list[Any],
    held: list[bool],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """MC-label ``trajectories`` (``held[i]``: trajectory ``i`` belongs to a held-out problem),
    train a PRM on the others, save it to ``OUT/name`` and return its summary."""
    from thinkgym.learning.mc_labels import MCRolloutLabeler

    t0 = time.perf_counter()
    kept = [(t, h) for t, h in zip(trajectories, held, strict=True) if t.steps]
    if kept and all(h for _, h in kept):  # nothing left to train on: train on everything
        kept = [(t, False) for t, _ in kept]
    labeler = MCRolloutLabeler(env, policy, args.k, max_steps=args_limit(env, args))
    labeled = labeler.label([t for t, _ in kept])
    label_s = time.perf_counter() - t0
    train = [lt for lt, (_, h) in zip(labeled, kept, strict=True) if not h]
    hold = [lt for lt, (_, h) in zip(labeled, kept, strict=True) if h]
    stats = label_stats(labeled)
    _log(
        f"  {name}: {stats['trajectories']} trajectories, {stats['steps']} steps labeled with "
        f"k={args.k} rollouts ({labeler.policy_calls} policy calls, {labeler.rollout_steps} "
        f"rollout steps, {label_s:.0f}s); hard-positive share "
        f"{_fmt(stats['hard_positive_share'], '.1%')}, soft mean {_fmt(stats['soft_mean'])}, "
        f"{stats['correct_trajectories']} correct trajectories"
    )
    if not train:
        _log(f"  {name}: SKIPPED, no step to train on (the policy had no accepted step)")
        return {
            **stats,
            "kind": "prm",
            "skipped": "no labeled step",
            "heldout_auc": None,
            "dir": None,
        }
    t1 = time.perf_counter()
    model = _fit("prm", [t.example(args.labels) for t in train], env, args, policy)
    train_s = time.perf_counter() - t1
    auc = None
    if hold:
        scores = model.score_steps([t.transcript for t in hold])
        flat_s = [s for row in scores for s in row]
        flat_y = [y for t in hold for y in t.hard]
        auc = auc_or_none(flat_s, flat_y)
    out = Path(args.out) / name
    model.save_pretrained(out)
    _log(
        f"  {name}: trained {args.steps} steps on {len(train)} trajectories ({args.labels} "
        f"labels, loss {_fmt(model.train_loss, '.4f')}, {train_s:.0f}s); held-out step AUC "
        f"{_fmt(auc)} on {len(hold)} trajectories -> {out}"
    )
    return {
        **stats,
        "kind": "prm",
        "labels": args.labels,
        "k": args.k,
        "train_trajectories": len(train),
        "heldout_trajectories": len(hold),
        "heldout_steps": sum(len(t.steps) for t in hold),
        "heldout_auc": auc,
        "train_loss": model.train_loss,
        "label_policy_calls": labeler.policy_calls,
        "label_rollout_steps": labeler.rollout_steps,
        "label_seconds": label_s,
        "train_seconds": train_s,
        "dir": str(out),
    }


def train_orm(
    name: str,
    env: Any,
    groups: list[list[Any]],
    n_hold: int,
    args: argparse.Namespace,
    policy: Any = None,
) -> dict[str, Any]:
    """Train an ORM on every sampled trajectory (label: correct final answer per
    ``check_answer``); the last ``n_hold`` problems' trajectories are held out."""

    def rows(gs: list[list[Any]]) -> list[tuple[str, float]]:
        return [(env.transcript(f), float(ok)) for g in gs for f, ok in g if f.steps]

    n_hold = min(n_hold, max(len(groups) - 1, 0))
    train = rows(groups[: len(groups) - n_hold])
    hold = rows(groups[len(groups) - n_hold :])
    pos = sum(y for _, y in train + hold)
    total = len(train) + len(hold)
    _log(
        f"  {name}: {total} sampled trajectories, {int(pos)} correct "
        f"({_fmt(pos / total if total else None, '.1%')})"
    )
    if not train:
        _log(f"  {name}: SKIPPED, no trajectory to train on (the policy had no accepted step)")
        return {
            "kind": "orm",
            "trajectories": total,
            "skipped": "no trajectory",
            "heldout_auc": None,
            "dir": None,
        }
    t1 = time.perf_counter()
    model = _fit("orm", train, env, args, policy)
    train_s = time.perf_counter() - t1
    auc = None
    if hold:
        auc = auc_or_none(model.score_transcripts([t for t, _ in hold]), [y > 0 for _, y in hold])
    out = Path(args.out) / name
    model.save_pretrained(out)
    _log(
        f"  {name}: trained {args.steps} steps on {len(train)} trajectories (loss "
        f"{_fmt(model.train_loss, '.4f')}, {train_s:.0f}s); held-out AUC {_fmt(auc)} on "
        f"{len(hold)} trajectories -> {out}"
    )
    return {
        "kind": "orm",
        "trajectories": total,
        "correct_trajectories": int(pos),
        "correct_share": pos / total if total else None,
        "train_trajectories": len(train),
        "heldout_trajectories": len(hold),
        "heldout_auc": auc,
        "train_loss": model.train_loss,
        "train_seconds": train_s,
        "dir": str(out),
    }


def _prm_rows(groups: list[list[Any]], n_hold: int, per: int) -> tuple[list[Any], list[bool]]:
    """The first ``per`` sampled trajectories of each problem and whether each is held out (the
    last ``n_hold`` problems are)."""
    first_held = len(groups) - n_hold
    rows = [(f[0], p >= first_held) for p, g in enumerate(groups) for f in g[: max(1, per)]]
    return [t for t, _ in rows], [h for _, h in rows]


def args_limit(env: Any, args: argparse.Namespace) -> int:
    """Action limit of an episode (rollouts included)."""
    return int(args.max_steps) if args.max_steps else int(env.max_steps)


# ---------------------------------------------------------------------- main
def _positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--policy",
        default=None,
        help="policy folder (default: LLMPolicy.default()); 'random': RandomAgent (smoke tests)",
    )
    p.add_argument("--out", default="runs/reward_models", help="output folder")
    p.add_argument("--device", default="auto", help="device of the policy (reward models: CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--batch-rows",
        type=_positive,
        default=None,
        help="most rows per forward batch of the policy (default: 64 on a CPU, 4096 on a GPU)",
    )
    p.add_argument("--game24-problems", type=int, default=48, help="Game24 train puzzles")
    p.add_argument("--arith-problems", type=int, default=24, help="Arithmetic problems")
    p.add_argument(
        "--arith-difficulty", type=int, default=4, help="Arithmetic difficulty (4: the hardest)"
    )
    p.add_argument("--orm-samples", type=int, default=4, help="ORM trajectories per problem")
    p.add_argument(
        "--prm-samples",
        type=int,
        default=1,
        help="Arithmetic: sampled trajectories per problem to MC-label for the PRM (at most "
        "--orm-samples; Game24 labels one per puzzle)",
    )
    p.add_argument("--k", type=int, default=4, help="MC rollouts per step")
    p.add_argument("--max-steps", type=int, default=0, help="action limit (0: the env's)")
    p.add_argument("--labels", choices=("hard", "soft"), default="hard", help="PRM labels")
    p.add_argument("--steps", type=int, default=150, help="training steps per model")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--init",
        choices=("scratch", "policy"),
        default="scratch",
        help="reward model start: a fresh tiny model (--hidden/--layers/--max-positions) or the "
        "policy's transformer with a new scalar head (LearnedRewardModel.from_policy)",
    )
    p.add_argument("--hidden", type=int, default=64, help="reward model hidden size")
    p.add_argument("--layers", type=int, default=2, help="reward model layers")
    p.add_argument("--max-positions", type=int, default=1024, help="reward model context")
    p.add_argument("--holdout", type=float, default=0.2, help="share of problems held out")
    p.add_argument(
        "--figure-problems",
        type=int,
        default=200,
        help="Arithmetic problems the figures evaluate (their seeds are avoided)",
    )
    p.add_argument(
        "--only", choices=("all", "game24", "arithmetic"), default="all", help="which task"
    )
    p.add_argument(
        "--arith-outcome-only",
        action="store_true",
        help="Arithmetic with verify_steps=False (wrong arithmetic accepted), as in "
        "benchmarks/search.py --arith-outcome-only",
    )
    p.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.game24_problems = min(args.game24_problems, 4)
        args.arith_problems = min(args.arith_problems, 4)
        args.orm_samples = min(args.orm_samples, 2)
        args.k = min(args.k, 2)
        args.steps = min(args.steps, 20)
        args.hidden = min(args.hidden, 32)
        args.layers = min(args.layers, 1)
        args.batch_size = min(args.batch_size, 4)
        args.max_steps = args.max_steps or 4
    import torch

    from thinkgym.agents.base import unwrap_env
    from thinkgym.envs import make

    torch.manual_seed(args.seed)
    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        make_policy, label = load_policy(args.policy, args.device, args.seed, args.batch_rows)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _log(f"policy: {label}")
    policy: Any = None
    summary: dict[str, Any] = {
        "policy": label,
        "config": {k: v for k, v in vars(args).items()},
        "models": {},
    }

    if args.only in ("all", "game24"):
        _log(f"Game24 (train split): {args.game24_problems} puzzles, k={args.k}")
        env = unwrap_env(make("Game24", split="train"))
        policy = make_policy(env)
        problems = game24_problems(args.game24_problems, args.seed)
        groups = sample(env, policy, problems, 1, args_limit(env, args), "sample game24")
        n_hold = split_holdout(len(problems), args.holdout)
        summary["models"]["prm_game24"] = train_prm(
            "prm_game24", env, policy, *_prm_rows(groups, n_hold, 1), args
        )
        summary["models"]["prm_game24"]["problems"] = len(problems)

    if args.only in ("all", "arithmetic"):
        _log(
            f"Arithmetic (difficulty {args.arith_difficulty}): {args.arith_problems} problems, k={args.k}, "
            f"{args.orm_samples} ORM samples each"
        )
        env = unwrap_env(
            make(
                "Arithmetic",
                difficulty=args.arith_difficulty,
                verify_steps=not args.arith_outcome_only,
            )
        )
        policy = make_policy(env)
        problems = arithmetic_problems(env, args.arith_problems, args.seed, args.figure_problems)
        groups = sample(
            env, policy, problems, max(args.orm_samples, 1), args_limit(env, args), "sample arith"
        )
        n_hold = split_holdout(len(problems), args.holdout)
        prm = train_prm(
            "prm_arithmetic", env, policy, *_prm_rows(groups, n_hold, args.prm_samples), args
        )
        prm["problems"] = len(problems)
        prm["split"] = "train"  # the figures evaluate on the test split
        summary["models"]["prm_arithmetic"] = prm
        orm = train_orm("orm_arithmetic", env, groups, n_hold, args, policy)
        orm["problems"] = len(problems)
        summary["models"]["orm_arithmetic"] = orm

    stats = getattr(policy, "stats", None)
    summary["policy_stats"] = stats.as_dict() if stats is not None else None
    summary["seconds"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _log(f"done in {summary['seconds']:.0f}s; summary: {out / 'summary.json'}")
    for name, m in summary["models"].items():
        _log(f"  {name:16s} held-out AUC {_fmt(m['heldout_auc'])}  -> {m['dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
