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
    kind: str,
    examples: list[Any],
    env: Any,
    args: argparse.Namespace,
    policy: Any = None,
    valid: list[Any] | None = None,
) -> Any:
    """A reward model of ``kind`` trained on ``examples`` with the CLI's settings: a fresh tiny
    model (``--init scratch``) or the policy's transformer with a new head (``--init policy``).
    With ``valid`` and ``--eval-every``, the weights with the lowest validation loss are kept."""
    from thinkgym.learning.reward_models import train_reward_model
    from thinkgym.rewards import LearnedRewardModel

    common = {"kind": kind, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr}
    common.update(seed=args.seed, problem_lines=env.problem_line_count)
    common.update(lr_schedule=args.lr_schedule)
    if valid and args.eval_every:
        common.update(valid=valid, eval_every=args.eval_every, patience=args.patience)
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


def self_evaluation_scores(
    policy: Any, env: Any, finals: list[Any]
) -> dict[str, list[list[float]]]:
    """Self-evaluation PRM scores, no training: per step prefix, the lowest over the steps so
    far of the policy's ``"mean"`` and ``"min"`` token log-prob of a step given the transcript
    before it (temperature 1; one teacher-forced pass gives both). A step the policy itself
    finds unlikely is suspect, and a prefix is as suspect as its worst step (a PRM scores the
    prefix: once a step is wrong, every later prefix is wrong too)."""
    from thinkgym.envs.base import EnvState

    prompts, conts, owner = [], [], []
    for i, final in enumerate(finals):
        state = EnvState(problem=final.problem, data=env.initial_data(final.problem))
        for step in final.steps:
            prompts.append(env.transcript(state))
            conts.append(step + "\n")
            owner.append(i)
            state, ok, _ = env.apply(state, step)
            if not ok:
                raise ValueError(f"step {step!r} of a sampled trajectory is rejected on replay")
    order = sorted(range(len(prompts)), key=lambda j: len(prompts[j]))
    scores = {"mean": [0.0] * len(prompts), "min": [0.0] * len(prompts)}
    chunk = 512
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        lps = policy.logprobs([prompts[j] for j in idx], [conts[j] for j in idx])
        for j, lp in zip(idx, lps, strict=True):
            if len(lp):
                scores["mean"][j] = float(lp.float().mean())
                scores["min"][j] = float(lp.float().min())
    out: dict[str, list[list[float]]] = {}
    for how, per_step in scores.items():
        rows: list[list[float]] = [[] for _ in finals]
        for j, i in enumerate(owner):
            rows[i].append(min(per_step[j], rows[i][-1]) if rows[i] else per_step[j])
        out[how] = rows
    return out


PRM_LABELS = ("hard", "soft", "check")


def _prm_aucs(scores: list[list[float]], targets: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Held-out step AUC of ``scores`` against each label set (positive: label >= 0.5), and the
    AUC of a trajectory's min step score against its last label (the outcome)."""
    out: dict[str, Any] = {}
    for name, labels in targets.items():
        flat_s = [s for row in scores for s in row]
        flat_y = [y >= 0.5 for row in labels for y in row]
        out[f"step_auc_{name}"] = auc_or_none(flat_s, flat_y)
        rows = [(min(r), lab[-1] >= 0.5) for r, lab in zip(scores, labels, strict=True) if r]
        out[f"outcome_auc_{name}"] = auc_or_none([m for m, _ in rows], [y for _, y in rows])
    return out


def train_prm(
    name: str,
    env: Any,
    policy: Any,
    trajectories: list[Any],
    held: list[bool],
    args: argparse.Namespace,
    problem_of: list[int] | None = None,
    strict_env: Any = None,
) -> dict[str, Any]:
    """Label ``trajectories`` (``held[i]``: trajectory ``i`` belongs to a held-out problem),
    train one PRM per label kind of ``--labels`` on the others, save each and return a summary.

    Labels: ``hard``/``soft`` Monte-Carlo labels (Math-Shepherd; ``k`` rollouts per step) or
    ``check`` (process supervision from ``strict_env``'s step check, as PRM800K's human labels).
    The held-out trajectories always get MC labels and, with ``strict_env``, check labels: every
    PRM's held-out step AUC is reported against both, beside the policy's own log-prob
    (self-evaluation). The first label kind is saved as ``OUT/name``, the others as
    ``OUT/name_<kind>``. ``problem_of[i]`` (the problem of trajectory ``i``) puts the last
    ``--valid`` share of the training problems in a validation set for early stopping.
    """
    from thinkgym.learning.mc_labels import MCRolloutLabeler, step_check_labels

    kinds = [k for k in args.labels.split(",") if k]
    unknown = [k for k in kinds if k not in PRM_LABELS]
    if unknown or not kinds:
        raise SystemExit(f"error: --labels {args.labels!r}: use a comma list of {PRM_LABELS}")
    if "check" in kinds and strict_env is None:
        raise SystemExit(
            "error: --labels check needs a task with an exact step check in an outcome-only "
            "setting (Arithmetic with --arith-outcome-only)"
        )
    t0 = time.perf_counter()
    problem_of = problem_of if problem_of is not None else list(range(len(trajectories)))
    kept = [(t, h, p) for t, h, p in zip(trajectories, held, problem_of, strict=True) if t.steps]
    if args.score_prm:  # scoring only: every trajectory is held out
        kept = [(t, True, p) for t, _, p in kept]
    elif kept and all(h for _, h, _ in kept):  # nothing left to train on: train on everything
        kept = [(t, False, p) for t, _, p in kept]
    train_probs = sorted({p for _, h, p in kept if not h})
    n_valid = split_holdout(len(train_probs), args.valid) if args.eval_every else 0
    valid_probs = set(train_probs[len(train_probs) - n_valid :])
    role = ["hold" if h else ("valid" if p in valid_probs else "train") for _, h, p in kept]
    need_mc = any(k in ("hard", "soft") for k in kinds)
    to_label = [i for i, r in enumerate(role) if r == "hold" or need_mc]
    labeler = MCRolloutLabeler(env, policy, args.k, max_steps=args_limit(env, args))
    mc = dict(zip(to_label, labeler.label([kept[i][0] for i in to_label]), strict=True))
    label_s = time.perf_counter() - t0
    stats = label_stats(list(mc.values()))
    _log(
        f"  {name}: {len(kept)} trajectories ({role.count('train')} train, {role.count('valid')} "
        f"validation, {role.count('hold')} held out); MC labels on {stats['trajectories']} "
        f"({stats['steps']} steps, k={args.k}, {labeler.policy_calls} policy calls, "
        f"{labeler.rollout_steps} rollout steps, {label_s:.0f}s); hard-positive share "
        f"{_fmt(stats['hard_positive_share'], '.1%')}, soft mean {_fmt(stats['soft_mean'])}"
    )

    def examples(kind: str, which: str) -> list[tuple[str, list[float]]]:
        rows = []
        for i, (t, _, _) in enumerate(kept):
            if role[i] != which:
                continue
            if kind == "check":
                rows.append((env.transcript(t), step_check_labels(strict_env, t)))
            else:
                rows.append(mc[i].example(kind))
        return rows

    hold_idx = [i for i, r in enumerate(role) if r == "hold"]
    targets: dict[str, list[list[float]]] = {}
    if hold_idx:
        targets["mc_hard"] = [[float(h) for h in mc[i].hard] for i in hold_idx]
        if strict_env is not None:
            targets["check"] = [step_check_labels(strict_env, kept[i][0]) for i in hold_idx]
    hold_texts = [env.transcript(kept[i][0]) for i in hold_idx]
    if hold_idx:  # the held-out set, so that any scorer can be measured on it later
        Path(args.out).mkdir(parents=True, exist_ok=True)
        with open(Path(args.out) / f"{name}_heldout.jsonl", "w") as fh:
            for n, i in enumerate(hold_idx):
                row = {"transcript": hold_texts[n], "problem": kept[i][0].problem}
                row.update({k: v[n] for k, v in targets.items()})
                fh.write(json.dumps(row) + "\n")
    summary: dict[str, Any] = {
        **stats,
        "kind": "prm",
        "k": args.k,
        "trajectories": len(kept),
        "train_trajectories": role.count("train"),
        "valid_trajectories": role.count("valid"),
        "heldout_trajectories": len(hold_idx),
        "heldout_steps": sum(len(kept[i][0].steps) for i in hold_idx),
        "label_policy_calls": labeler.policy_calls,
        "label_rollout_steps": labeler.rollout_steps,
        "label_seconds": label_s,
        "variants": {},
    }
    if hold_idx and "check" in targets:
        agree = [
            (a >= 0.5) == (b >= 0.5)
            for ra, rb in zip(targets["mc_hard"], targets["check"], strict=True)
            for a, b in zip(ra, rb, strict=True)
        ]
        summary["heldout_mc_vs_check_agreement"] = sum(agree) / max(1, len(agree))
    if hold_idx and hasattr(policy, "logprobs"):
        finals = [kept[i][0] for i in hold_idx]
        for how, scores in self_evaluation_scores(policy, env, finals).items():
            base = _prm_aucs(scores, targets)
            summary[f"self_evaluation_{how}"] = base
            _log(f"  self-evaluation (policy {how} token log-prob per step): {_aucs_text(base)}")
    for path in args.score_prm:  # saved PRMs, scored on the same held-out set
        from thinkgym.rewards import LearnedRewardModel

        aucs = _prm_aucs(LearnedRewardModel.from_pretrained(path).score_steps(hold_texts), targets)
        summary.setdefault("scored", {})[str(path)] = aucs
        _log(f"  {path}: held-out {_aucs_text(aucs)}")
    if args.score_prm:
        kinds = []
    for n, kind in enumerate(kinds):
        train = examples(kind, "train")
        if not train:
            _log(f"  {name}: SKIPPED, no step to train on (the policy had no accepted step)")
            summary["variants"][kind] = {"skipped": "no labeled step", "dir": None}
            continue
        t1 = time.perf_counter()
        model = _fit("prm", train, env, args, policy, valid=examples(kind, "valid") or None)
        train_s = time.perf_counter() - t1
        aucs = _prm_aucs(model.score_steps(hold_texts), targets) if hold_idx else {}
        out = Path(args.out) / (name if n == 0 else f"{name}_{kind}")
        model.save_pretrained(out)
        _log(
            f"  {name} [{kind} labels]: {len(train)} trajectories, {args.steps} steps "
            f"(kept step {model.best_step}, loss {_fmt(model.train_loss, '.4f')}, "
            f"{train_s:.0f}s); held-out {_aucs_text(aucs)} -> {out}"
        )
        summary["variants"][kind] = {
            **aucs,
            "train_loss": model.train_loss,
            "best_step": model.best_step,
            "history": model.history,
            "train_seconds": train_s,
            "dir": str(out),
        }
    if not kinds:
        return summary
    first = summary["variants"].get(kinds[0], {})
    summary["labels"] = kinds[0]
    summary["heldout_auc"] = first.get("step_auc_mc_hard")
    summary["dir"] = first.get("dir")
    return summary


def _aucs_text(aucs: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_fmt(v)}" for k, v in aucs.items() if k.startswith(("step", "outc")))


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
    n_train = len(groups) - n_hold
    n_valid = split_holdout(n_train, args.valid) if args.eval_every else 0
    train = rows(groups[: n_train - n_valid])
    valid = rows(groups[n_train - n_valid : n_train])
    hold = rows(groups[n_train:])
    pos = sum(y for _, y in train + valid + hold)
    total = len(train) + len(valid) + len(hold)
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
    model = _fit("orm", train, env, args, policy, valid=valid or None)
    train_s = time.perf_counter() - t1
    auc = None
    if hold:
        auc = auc_or_none(model.score_transcripts([t for t, _ in hold]), [y > 0 for _, y in hold])
    out = Path(args.out) / name
    model.save_pretrained(out)
    _log(
        f"  {name}: trained {args.steps} steps on {len(train)} trajectories (kept step "
        f"{model.best_step}, loss "
        f"{_fmt(model.train_loss, '.4f')}, {train_s:.0f}s); held-out AUC {_fmt(auc)} on "
        f"{len(hold)} trajectories -> {out}"
    )
    return {
        "kind": "orm",
        "trajectories": total,
        "correct_trajectories": int(pos),
        "correct_share": pos / total if total else None,
        "train_trajectories": len(train),
        "valid_trajectories": len(valid),
        "heldout_trajectories": len(hold),
        "heldout_auc": auc,
        "train_loss": model.train_loss,
        "best_step": model.best_step,
        "history": model.history,
        "train_seconds": train_s,
        "dir": str(out),
    }


def _prm_rows(
    groups: list[list[Any]], n_hold: int, per: int
) -> tuple[list[Any], list[bool], list[int]]:
    """The first ``per`` sampled trajectories of each problem, whether each is held out (the
    last ``n_hold`` problems are) and the index of its problem."""
    first_held = len(groups) - n_hold
    rows = [(f[0], p >= first_held, p) for p, g in enumerate(groups) for f in g[: max(1, per)]]
    return [t for t, _, _ in rows], [h for _, h, _ in rows], [p for _, _, p in rows]


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
    p.add_argument(
        "--game24-samples", type=int, default=1, help="Game24 trajectories per puzzle to MC-label"
    )
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
    p.add_argument(
        "--labels",
        default="hard",
        help="PRM labels, a comma list (one PRM each; the first is saved as prm_<task>, the "
        "others as prm_<task>_<labels>): hard / soft (Monte-Carlo, Math-Shepherd) or check "
        "(process supervision from the env's exact step check, as PRM800K's human labels; "
        "Arithmetic with --arith-outcome-only)",
    )
    p.add_argument(
        "--valid",
        type=float,
        default=0.1,
        help="share of the training problems kept for early stopping (with --eval-every)",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="validation interval in training steps; the best weights are kept (0: none)",
    )
    p.add_argument(
        "--patience", type=int, default=None, help="stop after this many validations without gain"
    )
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument(
        "--score-prm",
        action="append",
        default=[],
        metavar="DIR",
        help="score saved PRMs instead of training (repeatable): every sampled trajectory is "
        "held out and MC-labeled; reports each PRM's and the self-evaluation's AUCs (use "
        "another --seed than the training run for fresh problems); no ORM is trained",
    )
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
        per = max(1, args.game24_samples)
        groups = sample(env, policy, problems, per, args_limit(env, args), "sample game24")
        n_hold = split_holdout(len(problems), args.holdout)
        trajs, held, problem_of = _prm_rows(groups, n_hold, per)
        summary["models"]["prm_game24"] = train_prm(
            "prm_game24", env, policy, trajs, held, args, problem_of
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
        strict = None
        if args.arith_outcome_only:  # the same task with step checks on: labels only
            strict = unwrap_env(make("Arithmetic", difficulty=args.arith_difficulty))
        trajs, held, problem_of = _prm_rows(groups, n_hold, args.prm_samples)
        prm = train_prm(
            "prm_arithmetic", env, policy, trajs, held, args, problem_of, strict_env=strict
        )
        prm["problems"] = len(problems)
        prm["split"] = "train"  # the figures evaluate on the test split
        summary["models"]["prm_arithmetic"] = prm
        if not args.score_prm:
            orm = train_orm("orm_arithmetic", env, groups, n_hold, args, policy)
            orm["problems"] = len(problems)
            summary["models"]["orm_arithmetic"] = orm

    stats = getattr(policy, "stats", None)
    summary["policy_stats"] = stats.as_dict() if stats is not None else None
    summary["seconds"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _log(f"done in {summary['seconds']:.0f}s; summary: {out / 'summary.json'}")
    for name, m in summary["models"].items():
        _log(f"  {name:16s} held-out AUC {_fmt(m.get('heldout_auc'))}  -> {m.get('dir')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
