"""SB3 training on thinkgym: candidate ranking with MaskablePPO/PPO/A2C, the LLM as an SB3 policy,
and ``thinkgym train sb3``."""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.envs.wrappers import CandidateStepWrapper, TokenLevelWrapper

pytest.importorskip("stable_baselines3")
torch = pytest.importorskip("torch")

# An easy Countdown: three numbers up to 9, small targets.
EASY = {"n_numbers": 3, "max_number": 9, "max_target": 30}


def _easy(split: str = "train") -> CandidateStepWrapper:
    return CandidateStepWrapper(gym.make("thinkgym/Countdown-v0", split=split, **EASY), 18)


def _solve_rate(pick, n: int = 100) -> float:
    env, wins = _easy("test"), 0  # held out: training envs draw the train split
    for i in range(n):
        obs, _ = env.reset(seed=i)
        done = False
        while not done:
            obs, reward, term, trunc, _ = env.step(pick(env, obs))
            done = term or trunc
        wins += reward > 0
    return wins / n


def test_maskable_ppo_beats_random_on_held_out_countdown() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from thinkgym.learning.sb3 import MaskableCandidateScorerPolicy, maskable_ppo

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    random_rate = _solve_rate(lambda env, obs: int(rng.choice(np.flatnonzero(env.action_masks()))))
    venv = DummyVecEnv([_easy] * 4)
    venv.seed(0)
    model = maskable_ppo()(
        MaskableCandidateScorerPolicy,
        venv,
        n_steps=128,
        batch_size=256,
        n_epochs=4,
        gamma=1.0,
        learning_rate=3e-3,
        ent_coef=0.0,
        policy_kwargs={"hidden": 32},
        seed=0,
    )
    model.learn(2048)

    def greedy(env, obs):
        return int(model.predict(obs, action_masks=env.action_masks(), deterministic=True)[0])

    trained_rate = _solve_rate(greedy)
    assert trained_rate >= random_rate + 0.3, (trained_rate, random_rate)


@pytest.mark.parametrize("algo", ["PPO", "A2C"])
def test_candidate_scorer_policy_with_ppo_and_a2c_saves_and_loads(algo: str, tmp_path) -> None:
    import stable_baselines3 as sb3

    from thinkgym.learning.sb3 import CandidateScorerPolicy

    cls = getattr(sb3, algo)
    kw = {"batch_size": 32} if algo == "PPO" else {}
    model = cls(CandidateScorerPolicy, _easy(), n_steps=32, policy_kwargs={"hidden": 16}, **kw)
    model.learn(64)
    logits = model.policy.action_net(
        model.policy.extract_features(torch.zeros(1, 18 * _easy().row_size))
    )
    assert logits.shape == (1, 18)  # one score per candidate, not a mix of indices
    model.save(tmp_path / "m.zip")
    again = cls.load(tmp_path / "m.zip")
    env = _easy()
    obs, _ = env.reset(seed=1)
    assert model.predict(obs, deterministic=True)[0] == again.predict(obs, deterministic=True)[0]


def test_scorer_ranks_rows_the_same_wherever_they_sit() -> None:
    """Permuting the candidate rows permutes the logits: the score depends on the row only."""
    from thinkgym.learning.sb3 import CandidateScorer

    env = _easy()
    obs, _ = env.reset(seed=2)
    scorer = CandidateScorer(env.observation_space, k=18, hidden=16)
    rows = torch.as_tensor(obs).reshape(18, -1)
    perm = torch.randperm(18, generator=torch.Generator().manual_seed(0))
    a = scorer(rows.reshape(1, -1))[0, :18]
    b = scorer(rows[perm].reshape(1, -1))[0, :18]
    torch.testing.assert_close(a[perm], b)
    # a terminal observation (no valid row) pools to zeros, so its value stays finite and small
    pooled = scorer(torch.zeros(1, rows.numel()))[0, 18:]
    assert torch.equal(pooled, torch.zeros_like(pooled))


@pytest.fixture(scope="module")
def tiny_lm():
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    model = build_tiny_model(tok, seed=0, hidden_size=32, layers=1, heads=2, max_positions=128)
    return model, tok


def test_ppo_trains_the_lm_and_the_saved_model_is_an_llm_policy(tiny_lm, tmp_path) -> None:
    from stable_baselines3 import PPO

    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.learning.sb3 import LLMActorCriticPolicy

    model, tok = tiny_lm
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    env = TokenLevelWrapper(
        gym.make("thinkgym/Arithmetic-v0", difficulty=0), tok, max_tokens=48, max_step_tokens=12
    )
    ppo = PPO(
        LLMActorCriticPolicy,
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        learning_rate=1e-3,
        policy_kwargs={"model": model, "tokenizer": tok},
        seed=0,
    )
    ppo.learn(64)
    after = ppo.policy.lm.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "the LM did not change"

    ppo.policy.save_pretrained(tmp_path / "lm")
    loaded = LLMPolicy.from_pretrained(tmp_path / "lm", device="cpu")
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        transcript = env.unwrapped.transcript()
        # same next-token distribution as the SB3 policy on this observation
        with torch.no_grad():
            sb3_logits, _ = ppo.policy._lm_step(torch.as_tensor(obs)[None])
            ids = tok(transcript + "\n", add_special_tokens=False, return_tensors="pt")
            lm_logits = loaded.model(**ids).logits[:, -1, : sb3_logits.shape[1]]
        torch.testing.assert_close(sb3_logits, lm_logits, rtol=1e-4, atol=1e-4)
        # and the same greedy step
        text = []
        for _ in range(12):
            action, _ = ppo.predict(obs, deterministic=True)
            if int(action) in (env.newline_id, env.eos_id):
                break
            text.append(int(action))
            obs, *_ = env.step(int(action))
        greedy = loaded.propose([transcript], 1, temperature=0.0, max_new_tokens=12)[0][0].text
        assert tok.decode(text).strip() == greedy


def test_llm_policy_loads_from_a_directory(tiny_lm, tmp_path) -> None:
    from stable_baselines3 import PPO

    from thinkgym.learning.sb3 import LLMActorCriticPolicy

    model, tok = tiny_lm
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    env = TokenLevelWrapper(gym.make("thinkgym/Arithmetic-v0", difficulty=0), tok, max_tokens=32)
    ppo = PPO(
        LLMActorCriticPolicy,
        env,
        n_steps=16,
        batch_size=16,
        n_epochs=1,
        policy_kwargs={"model": str(tmp_path / "m")},
    )
    ppo.learn(16)
    ppo.save(tmp_path / "ppo.zip")  # a directory model pickles with the run
    assert PPO.load(tmp_path / "ppo.zip").policy.lm.config.hidden_size == 32
    with pytest.raises(ValueError, match="policy_kwargs"):
        PPO(LLMActorCriticPolicy, env)
    with pytest.raises(FileNotFoundError, match="config.json"):
        PPO(LLMActorCriticPolicy, env, policy_kwargs={"model": str(tmp_path)})


def _cli_args(**kw) -> argparse.Namespace:
    from thinkgym.commands import train_sb3

    parser = argparse.ArgumentParser()
    train_sb3.add_arguments(parser)
    argv = []
    for key, value in kw.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return parser.parse_args(argv)


def test_cli_refuses_maskable_ppo_on_tokens(tmp_path) -> None:
    from thinkgym.commands import train_sb3

    args = _cli_args(algo="MaskablePPO", env="Arithmetic", wrapper="tokens", out=tmp_path)
    with pytest.raises(ValueError, match="MaskablePPO needs action masks"):
        train_sb3.run(args)
    with pytest.raises(SystemExit):
        _cli_args(algo="DQN", env="Game24", out=tmp_path)


def test_cli_trains_maskable_ppo_with_checkpoints_and_eval(tmp_path) -> None:
    from thinkgym.commands import train_sb3

    args = _cli_args(
        algo="MaskablePPO",
        env="Game24",
        out=tmp_path,
        timesteps=64,
        n_envs=2,
        n_steps=32,
        save_freq=64,
        eval_freq=64,
        eval_episodes=2,
    )
    assert train_sb3.run(args) == 0
    assert (tmp_path / "model.zip").is_file()
    assert (tmp_path / "progress.csv").is_file()
    assert list((tmp_path / "checkpoints").glob("model_*_steps.zip"))
    assert (tmp_path / "eval" / "evaluations.npz").is_file()


def test_cli_trains_the_lm_on_tokens_and_saves_an_llm_policy(tiny_lm, tmp_path) -> None:
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.commands import train_sb3

    model, tok = tiny_lm
    model.save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    args = _cli_args(
        algo="PPO",
        env="Arithmetic",
        difficulty=0,
        wrapper="tokens",
        model=tmp_path / "lm",
        out=tmp_path / "run",
        timesteps=32,
        n_envs=1,
        n_steps=32,
        max_tokens=32,
        eval_freq=0,
    )
    assert train_sb3.run(args) == 0
    policy = LLMPolicy.from_pretrained(tmp_path / "run" / "final", device="cpu")
    assert len(policy.propose(["Evaluate: 2 + 3"], 2, max_new_tokens=4)[0]) == 2
