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

The training lives in :mod:`thinkgym.learning.reward_models` (:class:`RewardModelConfig`,
:func:`train_reward_models`; ``thinkgym train rm`` runs it too); this script keeps the command
line the figures were made with. Run (about 5-8 minutes on 2 CPU cores with a ~4M-parameter
policy)::

    python benchmarks/train_reward_models.py --out runs/reward_models
    thinkgym train rm --out runs/reward_models          # the same run

then ``python benchmarks/search.py --figures --rm-dir runs/reward_models`` (Game24 PRM for the
Game24 table, Arithmetic PRM/ORM for the best-of-N table).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from thinkgym.learning.reward_models import (  # noqa: F401  (the script's former helpers)
    ARITH_TRAIN_SEED,
    GAME24_TRAIN_SEED,
    PRM_LABELS,
    RewardModelConfig,
    _prm_rows,
    arithmetic_problems,
    auc_or_none,
    game24_problems,
    label_stats,
    sample,
    self_evaluation_scores,
    split_holdout,
    train_orm,
    train_prm,
    train_reward_models,
)


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


def config_from_args(args: argparse.Namespace) -> RewardModelConfig:
    """The :class:`RewardModelConfig` of the parsed command line (``--init`` is ``init_from``)."""
    values = vars(args).copy()
    values["init_from"] = values.pop("init")
    return RewardModelConfig(**values)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    try:
        cfg.validate()
    except ValueError as exc:
        text = " ".join(str(exc).split())
        for f in dataclasses.fields(RewardModelConfig):
            option = "--init" if f.name == "init_from" else "--" + f.name.replace("_", "-")
            text = text.replace(f"{f.name}=", f"{option} ")
        raise SystemExit(f"error: {text}") from None
    try:
        train_reward_models(cfg)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
