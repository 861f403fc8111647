"""SB3 wrappers: checkers, masks, rejected indices, token steps, vectorised envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.envs.wrappers import CandidateStepWrapper, TokenLevelWrapper

pytest.importorskip("stable_baselines3")

CANDIDATE_ENVS = [
    ("thinkgym/Game24-v0", {}, 36),
    ("thinkgym/Countdown-v0", {"difficulty": 0}, 18),
    ("thinkgym/Arithmetic-v0", {"difficulty": 2}, 4),
    ("thinkgym/LinearEquation-v0", {"difficulty": 2}, 6),
]


@pytest.fixture(scope="module")
def char_tokenizer():
    from thinkgym.models import build_char_tokenizer

    return build_char_tokenizer()


def _candidates(env_id: str, kwargs: dict, k: int) -> CandidateStepWrapper:
    return CandidateStepWrapper(gym.make(env_id, **kwargs), k)


@pytest.mark.parametrize("env_id,kwargs,k", CANDIDATE_ENVS, ids=[c[0] for c in CANDIDATE_ENVS])
def test_candidate_wrapper_passes_both_checkers(env_id: str, kwargs: dict, k: int) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with pytest.warns(UserWarning):  # gymnasium notes that the env is wrapped
        gym_check(_candidates(env_id, kwargs, k), skip_render_check=True)
    sb3_check(_candidates(env_id, kwargs, k))


def test_token_wrapper_passes_both_checkers(char_tokenizer) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    make = lambda: TokenLevelWrapper(gym.make("thinkgym/Arithmetic-v0"), char_tokenizer, 64)  # noqa: E731
    with pytest.warns(UserWarning):
        gym_check(make(), skip_render_check=True)
    sb3_check(make())


def _next_states(task, state, steps) -> list[bytes]:
    """The states the steps lead to, as sorted feature bytes (order- and wording-free)."""
    return sorted(task.features(task.apply(state, s)[0]).tobytes() for s in steps)


@pytest.mark.parametrize("env_id,kwargs,k", CANDIDATE_ENVS, ids=[c[0] for c in CANDIDATE_ENVS])
def test_masks_mark_exactly_the_valid_candidates(env_id: str, kwargs: dict, k: int) -> None:
    env = _candidates(env_id, kwargs, k)
    task = env.unwrapped
    rng = np.random.default_rng(0)
    for ep in range(8):
        obs, info = env.reset(seed=ep)
        done = False
        while not done:
            state = task.get_state()
            cands = env.candidates()
            mask = env.action_masks()
            assert len(cands) <= k, "k is too small for this test's settings"
            # the task's moves (Countdown/Game24 list them for the numbers in sorted order)
            assert _next_states(task, state, cands) == _next_states(
                task, state, task.candidate_steps(state)
            )
            assert mask.sum() == len(cands) > 0
            assert list(mask[: len(cands)]) == [task.legal(state, c) for c in cands]
            assert not mask[len(cands) :].any()
            rows = obs.reshape(k, -1)
            assert np.array_equal(rows[:, 0] > 0, mask)  # the valid column
            assert np.array_equal(info["action_mask"], mask)
            for i, c in enumerate(cands):  # each row describes the state its candidate leads to
                nxt, ok, _ = task.apply(state, c)
                assert ok
                np.testing.assert_allclose(rows[i, 1:], np.clip(task.features(nxt), -100, 100))
            obs, _, term, trunc, info = env.step(int(rng.choice(np.flatnonzero(mask))))
            assert info["valid"], info["error"]
            done = term or trunc


@pytest.mark.parametrize("bad", [35, 36, 1000, -1, 2.5, "x"])
def test_masked_or_out_of_range_index_is_a_rejected_step(bad) -> None:
    env = _candidates("thinkgym/Game24-v0", {}, 36)
    env.reset(options={"numbers": [1, 1, 1, 8]})  # 1s: few distinct moves, so slot 35 is empty
    assert not env.action_masks()[35]
    state = env.unwrapped.get_state()
    obs_before = env.step(int(np.flatnonzero(env.action_masks())[0]))[0]
    state = env.unwrapped.get_state()
    obs, reward, term, trunc, info = env.step(bad)
    assert reward == env.unwrapped.invalid_penalty
    assert not term and not info["valid"]
    assert "valid candidates" in info["error"]
    assert env.unwrapped.get_state().steps == state.steps
    np.testing.assert_array_equal(obs, obs_before)


def test_game24_reference_path_through_candidates() -> None:
    env = _candidates("thinkgym/Game24-v0", {}, 36)
    env.reset(options={"numbers": [4, 9, 10, 13]})
    task = env.unwrapped
    for step in task.solve(task.get_state().problem)[:-1]:
        state = task.get_state()
        want = sorted(v for v, _ in task.apply(state, step)[0].data)
        left = [sorted(v for v, _ in task.apply(state, c)[0].data) for c in env.candidates()]
        idx = left.index(want)
        _, reward, term, _, _ = env.step(idx)
        assert reward == 0 and not term
    assert len(env.candidates()) == 1 and env.candidates()[0].startswith("Answer:")
    _, reward, term, _, info = env.step(0)
    assert term and reward == 1.0 and info["correct"]


def test_arithmetic_candidates_are_every_evaluable_operation() -> None:
    env = gym.make("thinkgym/Arithmetic-v0").unwrapped
    env.reset(options={"problem": "(3 + 4) * (5 - 2) - 6 * 2"})
    cands = env.candidate_steps(env.get_state())
    assert cands == ["= 7 * (5 - 2) - 6 * 2", "= (3 + 4) * 3 - 6 * 2", "= (3 + 4) * (5 - 2) - 12"]
    for step in cands:
        assert env.legal(env.get_state(), step)
    env.reset(options={"problem": "2 * 3"})
    assert env.candidate_steps(env.get_state()) == ["= 6"]
    env.step("= 6")
    assert env.candidate_steps(env.get_state()) == ["Answer: 6"]


def test_linear_equation_candidates_follow_the_standard_moves() -> None:
    env = gym.make("thinkgym/LinearEquation-v0").unwrapped
    env.reset(options={"problem": "2(x - 3) + 1 = x + 4"})
    first = env.candidate_steps(env.get_state())
    assert first[0] == "2x - 6 + 1 = x + 4"
    assert "x = 9" in first
    for _ in range(6):
        cands = env.candidate_steps(env.get_state())
        _, reward, term, _, info = env.step(cands[0])
        assert info["valid"]
        if term:
            break
    assert term and reward == 1.0


class _ListProposer:
    """Proposes the task's candidates plus a malformed step; embeds texts by simple counts."""

    def __init__(self, task) -> None:
        self.task = task

    def propose(self, observations, n, **kwargs):
        state = self.task.state_from_transcript(observations[0])
        steps = (["not a step"] + self.task.candidate_steps(state))[:n]
        return [steps]

    def embed(self, texts):
        return np.array([[len(t), t.count("\n"), t.count("=")] for t in texts], dtype=np.float32)


def test_proposer_candidates_mask_the_steps_the_env_rejects() -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check

    inner = gym.make("thinkgym/Countdown-v0", difficulty=0)
    env = CandidateStepWrapper(inner, 6, proposer=_ListProposer(inner.unwrapped))
    assert env.observation_space.shape == (6 * 7,)
    env.reset(seed=3)
    assert env.candidates()[0] == "not a step"
    assert list(env.action_masks()) == [False] + [True] * 5
    _, reward, _, _, info = env.step(0)
    assert reward == inner.unwrapped.invalid_penalty and not info["valid"]
    _, _, _, _, info = env.step(1)
    assert info["valid"]
    sb3_check(CandidateStepWrapper(inner, 6, proposer=_ListProposer(inner.unwrapped)))


def test_candidate_wrapper_needs_features_or_a_proposer() -> None:
    with pytest.raises(ValueError, match="k="):
        CandidateStepWrapper(gym.make("thinkgym/Game24-v0"), 0)
    with pytest.raises(TypeError, match="propose"):
        CandidateStepWrapper(gym.make("thinkgym/Game24-v0"), 4, proposer=object())


def test_token_wrapper_sends_a_step_on_newline(char_tokenizer) -> None:
    tok = char_tokenizer
    env = TokenLevelWrapper(gym.make("thinkgym/Arithmetic-v0"), tok, max_tokens=32)
    obs, _ = env.reset(options={"problem": "(3 + 4) * 5"})
    prompt = "Evaluate: (3 + 4) * 5\n"
    assert env.prompt_text() == prompt
    assert obs[-1] == 22 and obs.shape == (33,)
    assert list(obs[32 - 22 : 32]) == tok(prompt, add_special_tokens=False)["input_ids"]
    ids = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    for t in ids("= 7 * 5"):
        _, reward, term, _, info = env.step(t)
        assert reward == 0.0 and not info["step_done"]
    _, reward, _, _, info = env.step(env.newline_id)
    assert info["step_done"] and info["valid"] and info["step"] == "= 7 * 5"
    assert env.prompt_text() == prompt + "= 7 * 5\n"
    for t in ids("= 36"):
        env.step(t)
    _, reward, _, _, info = env.step(env.newline_id)  # wrong: rejected, penalty on the newline
    assert not info["valid"] and reward == env.unwrapped.invalid_penalty
    assert env.prompt_text() == prompt + "= 7 * 5\n"
    obs = None
    for t in ids("Answer: 35\n"):
        obs, reward, term, _, info = env.step(t)
    assert term and reward == 1.0 and info["correct"]
    assert obs[-1] == 32  # the last max_tokens tokens only


def test_token_wrapper_caps_step_length_and_bad_ids(char_tokenizer) -> None:
    env = TokenLevelWrapper(
        gym.make("thinkgym/Arithmetic-v0"), char_tokenizer, max_tokens=16, max_step_tokens=3
    )
    env.reset(seed=0)
    a = char_tokenizer.convert_tokens_to_ids("1")
    assert not env.step(a)[4]["step_done"]
    assert not env.step(a)[4]["step_done"]
    _, reward, _, _, info = env.step(a)  # third token: the step goes to the env as it stands
    assert info["step_done"] and info["step"] == "111" and reward < 0
    _, reward, _, _, info = env.step(10**6)  # out of range: ends the (empty) step
    assert info["step_done"] and not info["valid"]


@pytest.mark.parametrize("vec", ["dummy", "subproc"])
def test_wrappers_in_make_vec_env(vec: str, char_tokenizer) -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    cls = DummyVecEnv if vec == "dummy" else SubprocVecEnv
    # fork: children start in milliseconds (forkserver would re-import torch in each one)
    vec_kw = {} if vec == "dummy" else {"start_method": "fork"}
    venv = make_vec_env(
        lambda: gym.make("thinkgym/Countdown-v0", difficulty=0),
        n_envs=2,
        seed=0,
        vec_env_cls=cls,
        vec_env_kwargs=vec_kw,
        wrapper_class=CandidateStepWrapper,
        wrapper_kwargs={"k": 18},
    )
    obs = venv.reset()
    assert obs.shape == (2, 18 * venv.get_attr("row_size")[0])
    masks = np.stack(venv.env_method("action_masks"))
    obs, rewards, dones, infos = venv.step(masks.argmax(1))
    assert rewards.shape == (2,) and all(i["valid"] for i in infos)
    venv.close()
    venv = make_vec_env(
        lambda: gym.make("thinkgym/Arithmetic-v0"),
        n_envs=2,
        seed=0,
        vec_env_cls=cls,
        vec_env_kwargs=vec_kw,
        wrapper_class=TokenLevelWrapper,
        wrapper_kwargs={"tokenizer": char_tokenizer, "max_tokens": 32},
    )
    obs = venv.reset()
    assert obs.shape == (2, 33)
    venv.step(np.array([5, 6]))
    venv.close()


def test_llm_policy_as_proposer_embeds_with_its_model(char_tokenizer) -> None:
    pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.models import build_tiny_model

    model = build_tiny_model(char_tokenizer, seed=0, hidden_size=16, layers=1, heads=2)
    policy = LLMPolicy(model, char_tokenizer, device="cpu")
    env = CandidateStepWrapper(
        gym.make("thinkgym/Game24-v0"),
        4,
        proposer=policy,
        seed=0,
        propose_kwargs={"max_new_tokens": 8},
    )
    assert env.observation_space.shape == (4 * (2 * 16 + 1),)
    obs, info = env.reset(seed=0)
    state = env.unwrapped.get_state()
    cands = env.candidates()
    assert 1 <= len(cands) <= 4
    assert list(env.action_masks()[: len(cands)]) == [env.unwrapped.legal(state, c) for c in cands]
    rows = obs.reshape(4, -1)
    assert not rows[~env.action_masks()].any()  # masked slots are zero
    obs, reward, *_ = env.step(3)
    assert np.isfinite(obs).all()


def test_mean_pooled_embedding_ignores_padding(char_tokenizer) -> None:
    torch = pytest.importorskip("torch")
    from thinkgym.envs.wrappers import mean_pooled_embedding
    from thinkgym.models import build_tiny_model

    model = build_tiny_model(char_tokenizer, seed=0, hidden_size=16, layers=1, heads=2)
    texts = ["Numbers: 1 2 3 4 | Target: 24", "ab"]
    emb = mean_pooled_embedding(model, char_tokenizer, texts)
    assert emb.shape == (2, 16)
    for text, row in zip(texts, emb, strict=True):
        ids = char_tokenizer([text], return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            alone = model(**ids, output_hidden_states=True).hidden_states[-1][0].mean(0)
        np.testing.assert_allclose(row, alone.numpy(), rtol=1e-4, atol=1e-5)
