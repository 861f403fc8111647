"""Math-Shepherd MC-rollout labels, and a learned PRM trained on them (Arithmetic, ROC AUC).

What counts as an incorrect step in Arithmetic: the env checks the arithmetic of every step, so
an accepted non-answer step always keeps the value of the expression (it is correct). The only
accepted steps that lead away from the right answer are wrong ``Answer:`` lines: answers given
too early (with a number from the current expression) and final answers off by a few. The noisy
policy below makes both mistakes (and arithmetic slips, which the env rejects and which therefore
never reach a transcript). Ground truth for the AUC: a non-answer step is correct, an answer step
is correct when ``check_answer`` says so. The PRM is trained on the MC labels only (soft shares
of successful rollouts, and their hard form), never on the ground truth.
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401
from thinkgym.agents import OracleAgent, RandomAgent
from thinkgym.envs.base import is_answer
from thinkgym.learning.mc_labels import (
    MCRolloutLabeler,
    NoisyOraclePolicy,
    collect_prm_dataset,
    roc_auc,
)
from thinkgym.search import PolicyError


class CountingPolicy:
    """Wraps a policy and records the size of each propose() call."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[int] = []

    def track(self, state):
        getattr(self.inner, "track", lambda s: None)(state)

    def propose(self, observations, n=1, **kw):
        self.calls.append(len(observations))
        return self.inner.propose(observations, n)


def test_oracle_rollouts_label_gold_steps_one():
    env = gym.make("thinkgym/Countdown-v0").unwrapped
    env.reset(seed=3)
    trace = env.solve(env.get_state().problem)
    final = env.get_state()
    for s in trace:
        final, ok, _ = env.apply(final, s)
        assert ok
    policy = CountingPolicy(OracleAgent(env))
    labeler = MCRolloutLabeler(env, policy, k=4, progress=False)
    (lab,) = labeler.label([final])
    assert lab.soft == (1.0,) * len(trace) and all(lab.hard) and lab.correct
    # One propose call per rollout level, each holding every live rollout of that level.
    assert policy.calls[0] == 4 * (len(trace) - 1)
    assert len(policy.calls) == labeler.policy_calls <= len(trace)


def test_dead_end_step_labeled_zero():
    """A legal Countdown step after which the target is unreachable gets soft = hard = 0."""
    env = gym.make("thinkgym/Countdown-v0").unwrapped
    env.reset(options={"numbers": [2, 3, 4], "target": 24})
    root = env.get_state()
    s1, ok, _ = env.apply(root, "2 + 3 = 5")  # 5 and 4 cannot make 24
    assert ok
    lab = MCRolloutLabeler(env, OracleAgent(env), k=3, progress=False).label([s1])[0]
    assert lab.soft == (0.0,) and lab.hard == (False,)


def test_random_policy_soft_between_hard():
    data = collect_prm_dataset(
        "thinkgym/Countdown-v0",
        lambda env: RandomAgent(env, seed=0),
        n_problems=6,
        k=6,
        seed=0,
        env_kwargs={"difficulty": 0},
        progress=False,
    )
    assert data
    for lab in data:
        assert len(lab.soft) == len(lab.hard) == len(lab.steps)
        for s, h in zip(lab.soft, lab.hard, strict=True):
            assert 0.0 <= s <= 1.0 and h == (s > 0)
        text, labels = lab.example("hard")
        assert text.split("\n")[1:] == list(lab.steps) and set(labels) <= {0.0, 1.0}


class _KeywordPolicy:
    """A Policy by the protocol alone: records the sampling keywords; ``empty`` replies nothing."""

    def __init__(self, env, empty=False):
        self.oracle = OracleAgent(env)
        self.empty = empty
        self.calls: list[tuple] = []

    def propose(
        self, observations, n=1, *, temperature=1.0, top_p=1.0, max_new_tokens=48, seed=None
    ):
        self.calls.append((temperature, top_p, max_new_tokens, seed))
        if self.empty:
            return [[] for _ in observations]
        return self.oracle.propose(observations, n, temperature=temperature, top_p=top_p)


def test_labeler_passes_the_policy_protocol_keywords_and_rejects_empty_replies():
    env = gym.make("thinkgym/Countdown-v0").unwrapped
    env.reset(seed=3)
    final = env.get_state()
    for s in env.solve(final.problem):
        final, ok, _ = env.apply(final, s)
    policy = _KeywordPolicy(env)
    labeler = MCRolloutLabeler(
        env, policy, k=2, progress=False, temperature=0.5, top_p=0.9, max_new_tokens=7, seed=3
    )
    (lab,) = labeler.label([final])
    assert lab.correct and policy.calls
    assert policy.calls == [(0.5, 0.9, 7, 3 + 7919 * r) for r in range(len(policy.calls))]
    with pytest.raises(PolicyError, match="no proposal .* n=1"):
        MCRolloutLabeler(env, _KeywordPolicy(env, empty=True), k=2, progress=False).label([final])


def test_labeler_validates():
    env = gym.make("thinkgym/Arithmetic-v0").unwrapped
    with pytest.raises(ValueError, match="k="):
        MCRolloutLabeler(env, NoisyOraclePolicy(env), k=0)
    with pytest.raises(ValueError, match="reference"):
        MCRolloutLabeler(env, NoisyOraclePolicy(env), use_reference=False)
    with pytest.raises(TypeError, match="propose"):
        MCRolloutLabeler(env, object())


def test_roc_auc():
    assert roc_auc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert roc_auc([0.1, 0.8, 0.9], [1, 1, 0]) == 0.0
    assert roc_auc([0.5, 0.5], [1, 0]) == 0.5
    assert roc_auc([0.2, 0.6, 0.4, 0.6], [0, 1, 1, 0]) == pytest.approx(0.625)
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([0.1], [1])


def _gold_labels(lab):
    """Ground truth per step (see the module docstring)."""
    out = []
    for step in lab.steps:
        out.append(lab.correct if is_answer(step) else True)
    return out


def test_learned_prm_on_mc_labels_ranks_correct_steps(capsys):
    """A tiny PRM trained on Math-Shepherd labels from a noisy policy: held-out ROC AUC >= 0.85.

    It trains on the hard estimate (HE in Math-Shepherd: 1 when any of the k rollouts from the
    prefix reaches the right answer). The soft estimate (the share of such rollouts) mixes the
    noise of later steps into the label of every early step; with the ~30 s of training a CI test
    allows, the tiny model then reached only 0.79-0.87, against about 0.97 with hard labels.
    """
    torch = pytest.importorskip("torch")
    from thinkgym.learning.reward_models import train_reward_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest, and kind to shared CPUs
    try:
        t0 = time.perf_counter()

        def noisy(seed):
            return lambda env: NoisyOraclePolicy(env, p=0.3, early_answer=0.5, seed=seed)

        kw = {"k": 8, "env_kwargs": {"difficulty": 1}, "progress": False}
        train = collect_prm_dataset("thinkgym/Arithmetic-v0", noisy(0), 2000, seed=0, **kw)
        test = collect_prm_dataset("thinkgym/Arithmetic-v0", noisy(1), 150, seed=100_000, **kw)
        t_data = time.perf_counter() - t0
        prm = train_reward_model(
            None,
            [lab.example("hard") for lab in train],
            kind="prm",
            steps=STEPS,
            batch_size=BATCH,
            lr=LR,
            seed=0,
            progress=False,
            hidden_size=HIDDEN,
            layers=2,
            heads=4,
            max_positions=256,
        )
        scores = prm.score_steps([lab.transcript for lab in test])
    finally:
        torch.set_num_threads(threads)
    flat_scores, flat_gold, ans_scores, ans_gold = [], [], [], []
    for lab, row in zip(test, scores, strict=True):
        for step, score, gold in zip(lab.steps, row, _gold_labels(lab), strict=True):
            flat_scores.append(score)
            flat_gold.append(gold)
            if is_answer(step):
                ans_scores.append(score)
                ans_gold.append(gold)
    auc = roc_auc(flat_scores, flat_gold)
    auc_answers = roc_auc(ans_scores, ans_gold)
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        print(
            f"\n[learned PRM on MC labels] steps={len(flat_gold)} incorrect="
            f"{flat_gold.count(False)} AUC={auc:.3f} (answers only {auc_answers:.3f}) "
            f"data={t_data:.1f}s total={elapsed:.1f}s"
        )
    assert auc >= 0.85


STEPS, BATCH, LR, HIDDEN = 400, 32, 3e-3, 64


def test_step_check_labels_mark_the_first_wrong_step_and_everything_after():
    """A trajectory sampled where wrong arithmetic is accepted, labeled by the strict env."""
    from thinkgym.envs import make
    from thinkgym.envs.base import EnvState
    from thinkgym.learning.mc_labels import step_check_labels

    lenient = make("Arithmetic", verify_steps=False).unwrapped
    strict = make("Arithmetic").unwrapped
    lenient.reset(options={"problem": "2 + 3 * 4"})
    state = lenient.get_state()

    def run(steps):
        s = EnvState(problem=state.problem, data=lenient.initial_data(state.problem))
        for step in steps:
            s, ok, err = lenient.apply(s, step)
            assert ok, err
        return s

    assert step_check_labels(strict, run(["3 * 4 = 12", "2 + 12 = 14", "Answer: 14"])) == [1.0] * 3
    wrong = run(["3 * 4 = 13", "2 + 13 = 15", "Answer: 15"])
    assert step_check_labels(strict, wrong) == [0.0, 0.0, 0.0]
    late = run(["3 * 4 = 12", "2 + 12 = 15", "Answer: 15"])
    assert step_check_labels(strict, late) == [1.0, 0.0, 0.0]
    assert step_check_labels(strict, run(["3 * 4 = 12", "2 + 12 = 14", "Answer: 13"])) == [
        1.0,
        1.0,
        0.0,
    ]
