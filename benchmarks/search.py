"""Search benchmark: solve rate against compute for every planner (the test-time scaling curve).

Default run (same as ``thinkgym bench``), under 5 minutes on a 2-core CPU::

    python benchmarks/search.py --out bench_results

Figures for README.md (``--figures``; longer):

* Game24, the 100 test puzzles: every planner at <= 100 policy calls per puzzle with learned or
  internal guidance (``--prm DIR``: a PRM trained on MC-rollout labels), greedy pass@1 and the
  exact-solver upper bound (OracleAgent); each row is printed when it finishes, with its time.
* Arithmetic at its hardest setting (difficulty 4, ``--arith-problems`` problems, 50 by
  default): best-of-N for N = 1, 4, 16, 64. 64 complete solutions are sampled per problem
  *once*; majority vote, ORM selection (``--arith-orm``) and PRM selection (``--arith-prm``,
  step scores aggregated with ``min``) then pick among the first N samples of the same draw,
  the usual way to report best-of-N curves; ORM- and PRM-weighted votes (the reward model's
  scores summed per answer) are reported beside them. Each transcript is scored once by each
  reward model. Answers are checked against the reference (``score_result``) only after
  selection. ``--arith-outcome-only`` runs the table with ``verify_steps=False`` (wrong
  arithmetic accepted, so mistakes reach the answer; with the default step checks every answered
  sample is right and all selection rules coincide with pass@N).

The reward models come from ``benchmarks/train_reward_models.py --out runs/reward_models``;
``--rm-dir runs/reward_models`` picks up ``prm_game24`` (as ``--prm``), ``prm_arithmetic`` and
``orm_arithmetic`` from that layout (explicit flags win)::

    python benchmarks/search.py --figures --rm-dir runs/reward_models --out bench_results/figures

``--quick`` is a smoke test of the figures (3 Game24 puzzles, 2 Arithmetic problems, N <= 4).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from thinkgym.bench import held_out_problems, load_policy, load_reward_model
from thinkgym.bench.run import bench_guidance
from thinkgym.commands import bench as bench_command
from thinkgym.commands._common import load_plugins
from thinkgym.envs.base import EnvState
from thinkgym.search import BestOfN, Greedy, get_planner, resolve_env, score_result
from thinkgym.search.best_of_n import normalize_answer, pick
from thinkgym.search.guidance import aggregate_scores

SELECTIONS = ("vote", "logprob", "selfeval", "selfeval_vote", "orm", "prm", "orm_vote", "prm_vote")
"""The best-of-N selection rules of the Arithmetic table, in row order."""

RM_LAYOUT = {"prm": "prm_game24", "arith_prm": "prm_arithmetic", "arith_orm": "orm_arithmetic"}
"""``--rm-dir`` layout (what benchmarks/train_reward_models.py writes): option -> subfolder."""

PRM_AGGREGATE = "min"


def _fill_rm_dir(args: argparse.Namespace) -> None:
    """Fill ``--prm``/``--arith-prm``/``--arith-orm`` from ``--rm-dir`` where not given."""
    if not args.rm_dir:
        return
    for attr, sub in RM_LAYOUT.items():
        path = Path(args.rm_dir) / sub
        if getattr(args, attr) is not None:
            continue
        if path.is_dir():
            setattr(args, attr, str(path))
        else:
            print(f"[figures] {path} not found: no --{attr.replace('_', '-')}", file=sys.stderr)


def _on_policy_device(rm: Any, policy: Any) -> Any:
    """Move a reward model to the policy's device (a GPU run scores on the GPU too)."""
    device = getattr(getattr(policy, "model", None), "device", None)
    if rm is not None and device is not None and str(device) != "cpu":
        rm.model.to(device)
    return rm


# ---------------------------------------------------------------------- Arithmetic best-of-N
def _sample(r: Any, env: Any) -> dict[str, Any] | None:
    """One finished sample of a ``BestOfN(n=1)`` result: answer, transcript, log-prob; else None."""
    if r.answer is None:
        return None
    state = EnvState(problem=r.problem, data=env.initial_data(r.problem))
    for step in r.steps:
        state, ok, _ = env.apply(state, step)
        if not ok:
            return None
    if not state.done:
        return None
    nodes = r.tree.nodes[1:] if r.tree is not None else []  # n=1: the tree is the sample's path
    tokens = sum(n.tokens for n in nodes)
    return {
        "result": r,
        "value": normalize_answer(state.answer or ""),
        "refuted": state.correct is False,  # reference-free verdict (None on Arithmetic)
        "transcript": env.transcript(state),
        "logprob": sum(n.logprob for n in nodes) / max(1, tokens),
        # self-evaluation PRM: the sample's least likely step (mean token log-prob per step,
        # the behaviour log-probs at T = 1), as a probability-like score in (0, 1]
        "selfeval": math.exp(min((n.logprob / max(1, n.tokens) for n in nodes), default=0.0)),
    }


def _score_once(rm: Any, kind: str, samples: list[dict[str, Any]]) -> float:
    """Score every sample's transcript once with ``rm`` (batched, sorted by length); seconds."""
    if rm is None or not samples:
        return 0.0
    t0 = time.perf_counter()
    order = sorted(range(len(samples)), key=lambda i: len(samples[i]["transcript"]))
    texts = [samples[i]["transcript"] for i in order]
    if kind == "orm":
        values = [float(v) for v in rm.score_transcripts(texts)]
    else:  # NaN (a step cut off by truncation) drops out, as in BestOfN(select="prm")
        values = [aggregate_scores(list(s), PRM_AGGREGATE) for s in rm.score_steps(texts)]
    for i, v in zip(order, values, strict=True):
        samples[i][kind] = v if not math.isnan(v) else -math.inf
    return time.perf_counter() - t0


def _select(samples: list[dict[str, Any] | None], how: str) -> dict[str, Any] | None:
    """BestOfN's selection (:func:`~thinkgym.search.best_of_n.pick`) among ``samples``:
    ``vote``, ``orm``/``prm`` (best score) or ``orm_vote``/``prm_vote`` (RM-weighted vote)."""
    usable = [s for s in samples if s is not None and not s["refuted"]]
    if not usable:
        return None
    kind = how.removesuffix("_vote")
    scores = None if how == "vote" else [s[kind] for s in usable]
    best = pick(
        [s["value"] for s in usable],
        [s["logprob"] for s in usable],
        scores,
        weighted=how.endswith("_vote"),
    )
    return usable[best]


def arithmetic_best_of_n(
    policy: Any,
    env: Any,
    problems: list[dict[str, Any]],
    ns: tuple[int, ...],
    rms: dict[str, Any],
    args: argparse.Namespace,
) -> tuple[dict[tuple[str, int], float], dict[str, Any]]:
    """Accuracy of each selection at each N from ONE draw of ``max(ns)`` samples per problem.

    The draw is one ``plan_many`` of ``BestOfN(n=1, early_stop=False)`` over every problem
    repeated ``max(ns)`` times (all samples of all problems advance in lockstep, exactly as
    ``BestOfN(n=max(ns))`` would sample them); each result is one complete sample with its
    steps, so sample ``k`` of a problem is well defined and "the first N samples" are an
    outcome-independent subset. Returns ``{(selection, N): accuracy}`` and timing info.
    """
    big = max(ns)
    t0 = time.perf_counter()
    planner = BestOfN(
        policy,
        n=1,
        select="vote",
        early_stop=False,
        temperature=args.temperature,
        max_step_tokens=args.arith_step_tokens,
        seed=args.seed,
        progress=not args.quiet,
    )
    flat = planner.plan_many(env, problems=[p for p in problems for _ in range(big)])
    sample_s = time.perf_counter() - t0
    per_problem = [
        [_sample(r, env) for r in flat[i * big : (i + 1) * big]] for i in range(len(problems))
    ]
    finished = [s for samples in per_problem for s in samples if s is not None and not s["refuted"]]
    info: dict[str, Any] = {
        "samples_per_problem": big,
        "sampling_seconds": sample_s,
        "policy_calls_per_problem": sum(r.cost.policy_calls for r in flat) / max(1, len(problems)),
        "finished_share": len(finished) / max(1, len(flat)),
    }
    for kind, rm in rms.items():
        if rm is not None:
            info[f"{kind}_seconds"] = _score_once(rm, kind, finished)
            info[f"{kind}_texts"] = len(finished)
    verdict: dict[int, bool] = {}  # id(result) -> correct; the reference is used only here

    def correct(s: dict[str, Any] | None) -> bool:
        if s is None:
            return False
        r = s["result"]
        if id(r) not in verdict:
            verdict[id(r)] = bool(score_result(env, r).correct)
        return verdict[id(r)]

    acc: dict[tuple[str, int], float] = {}
    methods = ["vote", "logprob", "selfeval", "selfeval_vote"]
    methods += [m for k, rm in rms.items() if rm is not None for m in (k, f"{k}_vote")]
    for n in ns:
        for how in methods:
            picks = [_select(samples[:n], how) for samples in per_problem]
            acc[(how, n)] = sum(correct(p) for p in picks) / max(1, len(picks))
        acc[("pass", n)] = sum(
            any(correct(s) for s in samples[:n]) for samples in per_problem
        ) / max(1, len(per_problem))
    return acc, info


# ---------------------------------------------------------------------- figures
def figures(args: argparse.Namespace) -> int:
    """The README figures (see the module docstring)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _fill_rm_dir(args)
    if getattr(args, "seeds", None):
        raise SystemExit("error: --figures takes one --seed N, not --seeds")
    args.seed = 0 if args.seed is None else args.seed
    n_game24 = 3 if args.quick else 100
    n_arith = 2 if args.quick else args.arith_problems
    ns = (1, 4) if args.quick else (1, 4, 16, 64)

    env, env_id = resolve_env("Game24")
    policy, label = load_policy(args.policy, env, batch_rows=args.batch_rows)
    prm = _on_policy_device(load_reward_model(args.prm), policy)
    orm = _on_policy_device(load_reward_model(args.orm), policy)
    seeds, problems = held_out_problems("Game24", n_game24)
    lines = [
        f"policy: {label}",
        f"reward models: Game24 PRM {args.prm or '-'}; Arithmetic PRM {args.arith_prm or '-'},"
        f" ORM {args.arith_orm or '-'}",
    ]
    if args.only in (None, "game24"):
        lines += [
            "",
            f"| Game24 ({len(problems)} test puzzles) | solve rate | policy calls | seconds |",
            "|---|---|---|---|",
        ]
    print("\n".join(lines), flush=True)
    rows: list[dict[str, Any]] = []

    def run(name: str, planner: Any) -> None:
        t0 = time.perf_counter()
        res = [score_result(env, r) for r in planner.plan_many(env, seeds=seeds, problems=problems)]
        rate = sum(bool(r.correct) for r in res) / len(res)
        calls = sum(r.cost.policy_calls for r in res) / len(res)
        secs = time.perf_counter() - t0
        rows.append(
            {
                "task": "Game24",
                "planner": name,
                "problems": len(res),
                "solve_rate": rate,
                "policy_calls": calls,
                "seconds": secs,
            }
        )
        lines.append(f"| {name} | {rate:.0%} | {calls:.1f} | {secs:.0f} |")
        print(lines[-1], flush=True)

    if args.only in (None, "game24"):
        run("greedy pass@1", Greedy(policy, progress=not args.quiet))
        guidance = bench_guidance(prm, orm)
        for name in ("best_of_n", "beam", "mcts", "revision"):
            planner = get_planner(name).for_budget(
                policy,
                100,
                depth=4,
                guidance=guidance,
                answer_check=not args.no_answer_check,
                progress=not args.quiet,
            )
            run(name, planner)
        oracle, _ = load_policy("oracle", env)
        run("exact solver (upper bound)", BestOfN(oracle, n=1, budget=100))
    if args.only == "game24":
        return _write_figures(out, lines, rows)

    from thinkgym.envs import make

    ar, _ = resolve_env(
        make(
            "Arithmetic",
            difficulty=args.arith_difficulty,
            max_steps=args.arith_max_steps,
            verify_steps=not args.arith_outcome_only,
        )
    )
    setting = f"difficulty {args.arith_difficulty}" + (
        ", outcome only: wrong steps accepted" if args.arith_outcome_only else ""
    )
    task = f"Arithmetic-d{args.arith_difficulty}" + ("-outcome" if args.arith_outcome_only else "")
    a_policy = policy
    if args.policy in ("random", "oracle"):  # scripted agents are bound to one env
        a_policy, _ = load_policy(args.policy, ar)
    rms = {
        "orm": _on_policy_device(load_reward_model(args.arith_orm), policy),
        "prm": _on_policy_device(load_reward_model(args.arith_prm), policy),
    }
    _, a_problems = held_out_problems("Arithmetic", n_arith, difficulty=args.arith_difficulty)
    print(
        f"\nArithmetic ({setting}): sampling {max(ns)} solutions x {n_arith} problems ...",
        flush=True,
    )
    acc, info = arithmetic_best_of_n(a_policy, ar, a_problems, ns, rms, args)
    names = {
        "vote": "majority vote",
        "logprob": "policy mean log-prob of the whole sample (no training)",
        "selfeval": "self-evaluation PRM: least likely step (policy log-probs, no training)",
        "selfeval_vote": "self-evaluation-weighted vote",
        "orm": "ORM",
        "prm": f"PRM ({PRM_AGGREGATE} over steps)",
        "orm_vote": "ORM-weighted vote",
        "prm_vote": "PRM-weighted vote",
        "pass": "pass@N (any sample correct; upper bound)",
    }
    lines += [
        "",
        f"| Arithmetic ({setting}; {n_arith} problems) best-of-N | "
        + " | ".join(f"N={n}" for n in ns)
        + " |",
        "|---|" + "---|" * len(ns),
    ]
    for how in (*SELECTIONS, "pass"):
        if how in ("orm_vote", "prm_vote") and rms[how.split("_")[0]] is None:
            continue
        if how in ("orm", "prm") and rms[how] is None:
            flag = f"--arith-{how} DIR (or --rm-dir)"
            lines.append(f"| {names[how]} | " + " | ".join(f"needs {flag}" for _ in ns) + " |")
            continue
        lines.append(f"| {names[how]} | " + " | ".join(f"{acc[(how, n)]:.0%}" for n in ns) + " |")
        for n in ns:
            row = {
                "task": task,
                "planner": "pass@n" if how == "pass" else f"best_of_n/{how}",
                "n": n,
                "problems": n_arith,
                "solve_rate": acc[(how, n)],
            }
            if how.startswith("prm"):
                row["aggregate"] = PRM_AGGREGATE
            rows.append(row)
    rm_time = ", ".join(
        f"{k.upper()} scoring {info[f'{k}_seconds']:.0f} s ({info[f'{k}_texts']} transcripts)"
        for k in ("orm", "prm")
        if f"{k}_seconds" in info
    )
    lines += [
        "",
        f"One draw of {max(ns)} samples per problem (temperature {args.temperature}); every "
        f"selection uses the first N of them. Sampling {info['sampling_seconds']:.0f} s "
        f"({info['policy_calls_per_problem']:.0f} policy calls per problem, "
        f"{info['finished_share']:.0%} of samples answered)"
        + (f"; {rm_time}" if rm_time else "")
        + ". Correctness is checked against the reference only after selection.",
    ]
    rows.append({"task": task, "planner": "sampling", **info})
    return _write_figures(out, lines, rows)


def _write_figures(out: Path, lines: list[str], rows: list[dict[str, Any]]) -> int:
    (out / "figures.md").write_text("\n".join(lines) + "\n")
    (out / "figures.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))
    print(f"wrote {out}/figures.md, figures.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench_command.add_arguments(parser)
    parser.add_argument(
        "--plugin", action="append", default=[], help="a Python file or module to load first"
    )
    parser.add_argument("--figures", action="store_true", help="the README figures (long)")
    parser.add_argument(
        "--arith-prm", default=None, help="PRM directory for the Arithmetic best-of-N table"
    )
    parser.add_argument(
        "--arith-orm", default=None, help="ORM directory for the Arithmetic best-of-N table"
    )
    parser.add_argument(
        "--rm-dir",
        default=None,
        help="folder written by benchmarks/train_reward_models.py: fills --prm (prm_game24), "
        "--arith-prm (prm_arithmetic) and --arith-orm (orm_arithmetic) where they exist",
    )
    parser.add_argument(
        "--arith-problems", type=int, default=50, help="Arithmetic problems in the figures"
    )
    parser.add_argument(
        "--only", choices=("game24", "arithmetic"), default=None, help="one of the two figures"
    )
    parser.add_argument(
        "--arith-max-steps",
        type=int,
        default=None,
        help="action limit of the Arithmetic episodes (default: the env's); stuck samples end there",
    )
    parser.add_argument(
        "--arith-difficulty",
        type=int,
        default=4,
        help="Arithmetic difficulty of the best-of-N table (4: the hardest setting)",
    )
    parser.add_argument(
        "--arith-outcome-only",
        action="store_true",
        help="Arithmetic with verify_steps=False: wrong arithmetic is accepted and only the "
        "final answer shows it (the setting where ORM/PRM selection has mistakes to find)",
    )
    parser.add_argument(
        "--arith-step-tokens",
        type=int,
        default=128,
        help="longest generated step on Arithmetic-d4 (solver steps reach ~92 characters there; "
        "the policy's own default of 48 tokens would cut them off)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="figures smoke test: 3 Game24 puzzles, 2 Arithmetic problems, N up to 4",
    )
    args = parser.parse_args(argv)
    load_plugins(args.plugin)
    if args.figures or args.quick:
        return figures(args)
    return bench_command.run(args)


if __name__ == "__main__":
    sys.exit(main())
