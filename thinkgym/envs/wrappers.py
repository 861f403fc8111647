"""Wrappers that give thinkgym envs the numeric spaces stable-baselines3 can train on.

A :class:`~thinkgym.envs.base.ReasoningEnv` speaks text (``spaces.Text`` in and out), which SB3
cannot read. Two wrappers turn it into something SB3 can:

* :class:`CandidateStepWrapper`: the action is ``Discrete(k)``, an index into the current
  candidate steps (the task's :meth:`~thinkgym.envs.base.ReasoningEnv.candidate_steps`, or ``k``
  proposals of a policy); ``action_masks()`` marks the real candidates for sb3-contrib's
  ``MaskablePPO``. The observation is one row per candidate describing the state the candidate
  *leads to* (the task's ``features(state)``, or an embedding by the proposer's model), so a
  network shared across rows can rank candidates (see
  :class:`thinkgym.learning.sb3.CandidateScorerPolicy`).
* :class:`TokenLevelWrapper`: the action is one token id; the newline token ends a step, which
  goes to the env. The observation is the last ``max_tokens`` token ids and their count, so
  :class:`thinkgym.learning.sb3.LLMActorCriticPolicy` can train a causal LM with SB3's PPO.

A masked or out-of-range action is a rejected step (the env's ``invalid_penalty``), never an
exception, as for text actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = ["CandidateStepWrapper", "TokenLevelWrapper", "task_of", "FEATURE_BOUND"]

FEATURE_BOUND = 100.0
"""Task features are clipped to ``[-FEATURE_BOUND, FEATURE_BOUND]`` (the observation box)."""


def task_of(env: gym.Env) -> ReasoningEnv:
    """The :class:`ReasoningEnv` inside a (possibly wrapped) env.

    Raises:
        TypeError: ``env`` holds no ReasoningEnv.
    """
    inner = getattr(env, "unwrapped", env)
    if not isinstance(inner, ReasoningEnv):
        raise TypeError(
            f"{type(inner).__name__} is not a thinkgym ReasoningEnv; wrap an env made with "
            "gym.make('thinkgym/...') or thinkgym.make(...)"
        )
    return inner


class CandidateStepWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Choose one of ``k`` candidate steps: ``Discrete(k)`` actions, ``Box`` observations.

    ## Candidates
    Without ``proposer``: the first ``k`` of the task's ``candidate_steps(state)`` (Game24 and
    Countdown: every distinct operation on two remaining numbers, then the answer line;
    Arithmetic: every operation that can be evaluated now; LinearEquation: the standard moves).
    With ``proposer`` (any object with ``propose(observations, n)``, e.g. an ``LLMPolicy``): the
    distinct texts of ``k`` sampled proposals.

    ## Observation
    ``Box(k * (f + 1))``: ``k`` rows (flattened) of ``f + 1`` numbers, one per candidate slot:
    ``[valid, features of the state after the candidate]``; empty slots are zero. Features
    come from the task's ``features(state)`` (clipped to ``±FEATURE_BOUND``), or with a
    proposer from its model: ``[embedding(transcript), embedding(transcript + step)]``
    (mean-pooled last hidden states; the proposer needs ``embed(texts)`` or ``model`` and
    ``tokenizer`` attributes). Tasks with ``candidate_table(state)`` (Countdown, Game24) give
    the steps and the rows at once (a cached fast path).

    ## Action
    ``Discrete(k)``: the index of a candidate. ``action_masks()`` marks the valid slots (a
    proposer's steps that the env would reject are masked too). Choosing a masked or
    out-of-range index is a rejected step: the env's ``invalid_penalty``, state unchanged, and
    ``info["error"]`` says why.

    Args:
        env: a thinkgym env (from ``gym.make`` or a ``ReasoningEnv``).
        k: number of candidate slots (Game24 has at most 36 candidates).
        proposer: optional policy proposing the candidates instead of the task.
        temperature: the proposer's sampling temperature.
        seed: seeds the proposer's sampling (advanced by one per step).
        propose_kwargs: more keyword arguments of ``proposer.propose`` (e.g.
            ``{"max_new_tokens": 24}``).
    """

    def __init__(
        self,
        env: gym.Env,
        k: int,
        proposer: Any = None,
        *,
        temperature: float = 1.0,
        seed: int = 0,
        propose_kwargs: dict[str, Any] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            k=k,
            proposer=proposer,
            temperature=temperature,
            seed=seed,
            propose_kwargs=propose_kwargs,
        )
        gym.Wrapper.__init__(self, env)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer (the number of candidates)")
        self.k = int(k)
        self.task = task_of(env)
        self.proposer = proposer
        self.temperature = float(temperature)
        self._seed = int(seed)
        self.propose_kwargs = dict(propose_kwargs or {})
        if proposer is None:
            if not callable(getattr(self.task, "features", None)):
                raise TypeError(
                    f"{type(self.task).__name__} has no features(state); pass proposer= (a "
                    "policy whose model embeds the candidates) or add features() to the task"
                )
            probe = self._probe_state()
            try:
                self.task.candidate_steps(probe)
            except NotImplementedError:
                raise TypeError(
                    f"{type(self.task).__name__} does not enumerate its moves "
                    "(candidate_steps); pass proposer= to draw candidates from a policy"
                ) from None
            dim = int(np.asarray(self.task.features(probe)).size)
        else:
            if not callable(getattr(proposer, "propose", None)):
                raise TypeError(f"proposer={proposer!r} has no propose(observations, n) method")
            dim = 2 * int(self._embed(["probe"]).shape[1])
        self.feature_dim = dim
        # Task features are clipped into the box; embeddings are unbounded.
        bound = FEATURE_BOUND if proposer is None else np.inf
        self.row_size = dim + 1
        self.observation_space = spaces.Box(
            -bound, bound, shape=(self.k * self.row_size,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(self.k)
        self._steps: list[str] = []
        self._mask = np.zeros(self.k, dtype=bool)
        self._obs = np.zeros((self.k, self.row_size), dtype=np.float32)

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the env and list the first candidates."""
        _, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._seed = int(seed)
        self._refresh()
        return self._obs.ravel().copy(), self._info(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Take candidate ``action``; a masked or out-of-range index is a rejected step."""
        index = _as_index(action)
        if index is None or not 0 <= index < self.k or not self._mask[index]:
            n = int(self._mask.sum())
            # An empty step is rejected by the env itself, which keeps its bookkeeping
            # (penalty, action count, truncation) in one place.
            _, reward, terminated, truncated, info = self.env.step("")
            info = dict(info)
            info["error"] = (
                f"action {action!r} is not one of the {n} valid candidates "
                f"(indices {np.flatnonzero(self._mask).tolist()}); see action_masks()"
            )
            return self._obs.ravel().copy(), float(reward), terminated, truncated, self._info(info)
        step = self._steps[index]
        _, reward, terminated, truncated, info = self.env.step(step)
        if not (terminated or truncated):
            self._refresh()
        else:
            self._steps, self._mask[:] = [], False
            self._obs[:] = 0.0
        info = dict(info)
        info["step"] = step
        return self._obs.ravel().copy(), float(reward), terminated, truncated, self._info(info)

    def action_masks(self) -> np.ndarray:
        """Which of the ``k`` slots hold a valid candidate (for sb3-contrib's MaskablePPO)."""
        return self._mask.copy()

    def candidates(self) -> list[str]:
        """The current candidate steps, slot by slot."""
        return list(self._steps)

    # ------------------------------------------------------------------ internals
    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        info = dict(info)
        info["action_mask"] = self._mask.copy()
        return info

    def _probe_state(self) -> EnvState:
        problem = self.task.generate_problem(np.random.default_rng(0))
        return EnvState(problem=problem, data=self.task.initial_data(problem))

    def _refresh(self) -> None:
        state = self.task.get_state()
        self._mask[:] = False
        self._obs[:] = 0.0
        if self.proposer is None:
            table = getattr(self.task, "candidate_table", None)
            if callable(table):  # steps and next-state features at once (Countdown, Game24)
                steps, rows = table(state)
                self._steps = list(steps)[: self.k]
                n = len(self._steps)
                self._mask[:n] = True
                self._obs[:n, 0] = 1.0
                self._obs[:n, 1:] = rows[:n]
                np.clip(self._obs, -FEATURE_BOUND, FEATURE_BOUND, out=self._obs)
                return
            fast = getattr(self.task, "candidate_transitions", None)
            if callable(fast):  # (step, next state) pairs without re-reading the texts
                moves = [(s, nxt, True) for s, nxt in fast(state)[: self.k]]
            else:
                moves = [
                    (s, *self.task.apply(state, s)[:2])
                    for s in self.task.candidate_steps(state)[: self.k]
                ]
            self._steps = [s for s, _, _ in moves]
            for i, (_, nxt, ok) in enumerate(moves):
                if ok:
                    self._mask[i] = True
                    self._obs[i, 0] = 1.0
                    self._obs[i, 1:] = self.task.features(nxt)
            np.clip(self._obs, -FEATURE_BOUND, FEATURE_BOUND, out=self._obs)
            return
        transcript = self.task.transcript(state)
        props = self.proposer.propose(
            [transcript],
            self.k,
            temperature=self.temperature,
            seed=self._seed,
            **self.propose_kwargs,
        )[0]
        self._seed += 1
        steps: list[str] = []
        for p in props:
            text = getattr(p, "text", p)
            if isinstance(text, str) and text not in steps:
                steps.append(text)
        self._steps = steps[: self.k]
        if not self._steps:
            return
        emb = self._embed([transcript] + [f"{transcript}\n{s}" for s in self._steps])
        d = emb.shape[1]
        for i, step in enumerate(self._steps):
            if self.task.legal(state, step):
                self._mask[i] = True
                self._obs[i, 0] = 1.0
                self._obs[i, 1 : 1 + d] = emb[0]
                self._obs[i, 1 + d :] = emb[i + 1]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        embed = getattr(self.proposer, "embed", None)
        if callable(embed):
            return np.asarray(embed(list(texts)), dtype=np.float32)
        model = getattr(self.proposer, "model", None)
        tok = getattr(self.proposer, "tokenizer", None)
        if model is None or tok is None:
            raise TypeError(
                f"proposer={self.proposer!r} has neither embed(texts) nor model/tokenizer "
                "attributes; the wrapper cannot embed its candidates"
            )
        return mean_pooled_embedding(model, tok, texts)


def mean_pooled_embedding(model: Any, tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Mean of a transformers model's last hidden states over each text's tokens (float32)."""
    import torch

    device = next(model.parameters()).device
    batch = tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
    batch = {k: v.to(device) for k, v in batch.items()}
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    hidden = out.hidden_states[-1].float()
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return pooled.cpu().numpy().astype(np.float32)


def _as_index(action: Any) -> int | None:
    arr = np.asarray(action)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        return None
    value = arr.reshape(()).item()
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


class TokenLevelWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Write steps one token at a time: ``Discrete(vocab)`` actions, ``Box`` observations.

    The model input is the transcript followed by a newline (the plain prompt format of
    ``LLMPolicy``), then the tokens of the step written so far. The newline token (or the eos
    token) ends the step: its text goes to the env, and the step's reward (process reward,
    outcome reward or rejection penalty) arrives with that token; every other token earns 0.
    A step longer than ``max_step_tokens`` is sent to the env as it stands.

    ## Observation
    ``Box(max_tokens + 1)`` of integers stored as float32: the last ``max_tokens`` token ids of
    the model input, right-aligned and left-padded with the pad id, then the number of real
    tokens among them.

    ## Action
    ``Discrete(len(tokenizer))``: the next token id. Ids outside the vocabulary count as the
    eos token (the step ends there).

    Args:
        env: a thinkgym env.
        tokenizer: a transformers tokenizer (e.g. ``LLMPolicy.default().tokenizer``) whose
            newline is a single token.
        max_tokens: how many of the last token ids the observation holds.
        max_step_tokens: longest step in tokens.
    """

    def __init__(
        self, env: gym.Env, tokenizer: Any, max_tokens: int = 128, max_step_tokens: int = 48
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, tokenizer=tokenizer, max_tokens=max_tokens, max_step_tokens=max_step_tokens
        )
        gym.Wrapper.__init__(self, env)
        if max_tokens < 2:
            raise ValueError(f"max_tokens={max_tokens} must be at least 2")
        if max_step_tokens < 1:
            raise ValueError(f"max_step_tokens={max_step_tokens} must be at least 1")
        self.task = task_of(env)
        self.tokenizer = tokenizer
        self.max_tokens = int(max_tokens)
        self.max_step_tokens = int(max_step_tokens)
        ids = tokenizer("\n", add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(
                "the tokenizer writes a newline as several tokens; TokenLevelWrapper needs a "
                "single newline token to end a step"
            )
        self.newline_id = int(ids[0])
        self.eos_id = tokenizer.eos_token_id
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.eos_id or 0))
        self.vocab_size = len(tokenizer)
        self.action_space = spaces.Discrete(self.vocab_size)
        high = np.full(self.max_tokens + 1, self.vocab_size - 1, dtype=np.float32)
        high[-1] = self.max_tokens
        self.observation_space = spaces.Box(
            np.zeros(self.max_tokens + 1, dtype=np.float32), high, dtype=np.float32
        )
        self._prompt: list[int] = []
        self._step: list[int] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the env; the observation is the tokenized problem line and a newline."""
        text, info = self.env.reset(seed=seed, options=options)
        self._set_prompt(text)
        return self._observation(), dict(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Append one token; a newline (or eos) sends the step to the env."""
        index = _as_index(action)
        token = index if index is not None and 0 <= index < self.vocab_size else self.eos_id
        ends = token in (self.newline_id, self.eos_id) or token is None
        if not ends:
            self._step.append(int(token))
            if len(self._step) < self.max_step_tokens:
                return self._observation(), 0.0, False, False, {"step_done": False}
        text = self.tokenizer.decode(self._step, skip_special_tokens=True).strip()
        obs_text, reward, terminated, truncated, info = self.env.step(text)
        info = dict(info)
        info["step_done"] = True
        info["step"] = text
        self._set_prompt(obs_text)
        return self._observation(), float(reward), terminated, truncated, info

    def prompt_text(self) -> str:
        """The current model input as text (transcript, newline, partial step)."""
        return self.tokenizer.decode(self._prompt + self._step)

    def _set_prompt(self, transcript: str) -> None:
        self._prompt = list(
            self.tokenizer(transcript + "\n", add_special_tokens=False)["input_ids"]
        )
        self._step = []

    def _observation(self) -> np.ndarray:
        ids = (self._prompt + self._step)[-self.max_tokens :]
        obs = np.full(self.max_tokens + 1, self.pad_id, dtype=np.float32)
        if ids:
            obs[self.max_tokens - len(ids) : self.max_tokens] = ids
        obs[-1] = len(ids)
        return obs
