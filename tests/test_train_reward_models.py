"""Smoke test of benchmarks/train_reward_models.py --quick (tiny policies, a few seconds)."""

from __future__ import annotations

import json

import pytest
from benchmark_loader import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("train_reward_models")


def test_quick_untrained_llm_policy(script, tmp_path):
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=32, layers=1, heads=2)
    LLMPolicy(model, tok, device="cpu").save_pretrained(tmp_path / "policy")
    out = tmp_path / "rm"
    assert script.main(["--quick", "--policy", str(tmp_path / "policy"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"prm_game24", "prm_arithmetic", "orm_arithmetic"}
    assert summary["policy_stats"]["calls"] > 0


def test_quick_trains_and_saves_loadable_models(script, tmp_path):
    from thinkgym.rewards.learned import LearnedRewardModel

    out = tmp_path / "rm"
    assert script.main(["--quick", "--policy", "random", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for name, kind in (
        ("prm_game24", "prm"),
        ("prm_arithmetic", "prm"),
        ("orm_arithmetic", "orm"),
    ):
        assert summary["models"][name]["dir"] == str(out / name)
        assert LearnedRewardModel.from_pretrained(out / name).kind == kind
    assert summary["models"]["prm_arithmetic"]["split"] == "train"


def test_arithmetic_problems_are_not_the_figures_problems(script):
    from thinkgym.bench import held_out_problems
    from thinkgym.envs import is_held_out, make

    env = make("Arithmetic", difficulty=4).unwrapped
    probs = [kw["options"]["problem"] for kw in script.arithmetic_problems(env, 300, 0, 200)]
    _, figures = held_out_problems("Arithmetic", 200, difficulty=4)
    assert len(probs) == 300 and not {p["expression"] for p in probs} & {
        p["expression"] for p in figures
    }
    assert not any(is_held_out(env.format_problem(p)) for p in probs)


def test_game24_problems_avoid_test_puzzles(script):
    from thinkgym.envs.game24 import test_puzzles

    held = set(test_puzzles())
    probs = script.game24_problems(200, seed=0)
    keys = {tuple(sorted(p["options"]["numbers"])) for p in probs}
    assert len(keys) == 200 and not keys & held


def test_prm_rows_hold_out_whole_problems(script):
    groups = [[(f"p{p}s{s}", True) for s in range(3)] for p in range(4)]
    rows, held, problem_of = script._prm_rows(groups, n_hold=1, per=2)
    assert rows == ["p0s0", "p0s1", "p1s0", "p1s1", "p2s0", "p2s1", "p3s0", "p3s1"]
    assert held == [False] * 6 + [True] * 2
    assert problem_of == [0, 0, 1, 1, 2, 2, 3, 3]
    assert script._prm_rows(groups, n_hold=0, per=0)[0] == ["p0s0", "p1s0", "p2s0", "p3s0"]


def test_label_variants_validation_and_both_aucs(script, tmp_path):
    """Outcome-only Arithmetic: one PRM per label kind (MC hard/soft, step-check), early stopping
    on a validation split, held-out AUC against MC labels and the step check."""
    from thinkgym.rewards.learned import LearnedRewardModel

    out = tmp_path / "rm"
    argv = ["--quick", "--policy", "random", "--out", str(out), "--only", "arithmetic"]
    argv += ["--arith-outcome-only", "--arith-difficulty", "1", "--arith-problems", "10"]
    argv += ["--labels", "check,hard,soft", "--eval-every", "5", "--lr-schedule", "cosine"]
    assert script.main(argv) == 0
    prm = json.loads((out / "summary.json").read_text())["models"]["prm_arithmetic"]
    assert set(prm["variants"]) == {"check", "hard", "soft"}
    assert prm["labels"] == "check" and prm["dir"] == str(out / "prm_arithmetic")
    assert prm["valid_trajectories"] > 0 and prm["heldout_trajectories"] > 0
    for kind, sub in (("check", "prm_arithmetic"), ("hard", "prm_arithmetic_hard")):
        v = prm["variants"][kind]
        assert v["dir"] == str(out / sub)
        assert LearnedRewardModel.from_pretrained(out / sub).kind == "prm"
        assert v["history"] and v["best_step"] in {h["step"] for h in v["history"]}
        assert {"step_auc_mc_hard", "step_auc_check"} <= set(v)
    assert 0.0 <= prm["heldout_mc_vs_check_agreement"] <= 1.0
    held = [json.loads(x) for x in (out / "prm_arithmetic_heldout.jsonl").read_text().splitlines()]
    assert len(held) == prm["heldout_trajectories"]
    for row in held:
        steps = row["transcript"].count("\n")  # one problem line, then one line per step
        assert len(row["mc_hard"]) == len(row["check"]) == steps


def test_unknown_label_kind_is_refused(script, tmp_path):
    argv = ["--quick", "--policy", "random", "--out", str(tmp_path), "--only", "arithmetic"]
    with pytest.raises(SystemExit, match="--labels"):
        script.main([*argv, "--labels", "hard,oracle"])
    with pytest.raises(SystemExit, match="check needs"):
        script.main([*argv, "--labels", "check"])


def test_score_saved_prms_without_training(script, tmp_path):
    from thinkgym.rewards.learned import LearnedRewardModel

    tiny = {"hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 256}
    LearnedRewardModel.build(kind="prm", **tiny).save_pretrained(tmp_path / "prm")
    out = tmp_path / "scored"
    argv = ["--quick", "--policy", "random", "--out", str(out), "--only", "arithmetic"]
    argv += ["--arith-outcome-only", "--arith-difficulty", "1", "--arith-problems", "6"]
    argv += ["--seed", "1", "--score-prm", str(tmp_path / "prm")]
    assert script.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    prm = summary["models"]["prm_arithmetic"]
    assert set(summary["models"]) == {"prm_arithmetic"}  # no ORM, no PRM trained
    assert prm["heldout_trajectories"] == prm["trajectories"] > 0 and not prm["variants"]
    assert {"step_auc_mc_hard", "step_auc_check"} <= set(prm["scored"][str(tmp_path / "prm")])


def test_self_evaluation_scores_are_running_minima_of_step_log_probs(script):
    """A prefix scores its least likely step so far (mean and min token log-prob, one pass)."""
    import torch

    from thinkgym.envs import make

    env = make("Arithmetic", verify_steps=False).unwrapped
    env.reset(options={"problem": "2 + 3 * 4"})
    final = env.get_state()
    for step in ("3 * 4 = 12", "2 + 12 = 14", "Answer: 14"):
        final, ok, err = env.apply(final, step)
        assert ok, err
    per_step = {"3 * 4 = 12\n": [-0.1, -0.3], "2 + 12 = 14\n": [-2.0, -0.0], "Answer: 14\n": [-0.5]}

    class Scorer:
        calls = 0

        def logprobs(self, prompts, continuations):
            Scorer.calls += 1
            return [torch.tensor(per_step[c]) for c in continuations]

    out = script.self_evaluation_scores(Scorer(), env, [final])
    assert Scorer.calls == 1
    assert out["mean"] == [[pytest.approx(-0.2), -1.0, -1.0]]
    assert out["min"] == [[pytest.approx(-0.3), -2.0, -2.0]]
