"""stable-baselines3 glue: policies that rank candidate steps, and a causal LM as an SB3 policy.

* :class:`CandidateScorerPolicy` / :class:`MaskableCandidateScorerPolicy`: for
  :class:`~thinkgym.envs.wrappers.CandidateStepWrapper`. One small network, shared across the
  ``k`` candidate rows, scores the state each candidate leads to; the ``k`` scores are the
  action logits. The policy thus ranks candidates by what they lead to instead of learning what
  an index means (an index means a different step in every state). The value is read from the
  pooled row embeddings. Use the first with ``PPO``/``A2C`` and the second with sb3-contrib's
  ``MaskablePPO``.
* :class:`LLMActorCriticPolicy`: for :class:`~thinkgym.envs.wrappers.TokenLevelWrapper`. The
  action logits are a transformers causal LM's next-token logits and the value comes from a small
  head on its last hidden state, so ``PPO(LLMActorCriticPolicy, env, policy_kwargs={"model":
  DIR})`` trains the LM through SB3's own ``learn()``. :meth:`LLMActorCriticPolicy.save_pretrained`
  writes a directory that ``LLMPolicy.from_pretrained`` loads.

Needs ``stable-baselines3`` (and ``sb3-contrib`` for the maskable policy):
``pip install stable-baselines3 sb3-contrib``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "thinkgym.learning.sb3 needs stable-baselines3 and torch: pip install stable-baselines3 sb3-contrib"
    ) from exc

__all__ = [
    "CandidateScorer",
    "CandidateScorerPolicy",
    "MaskableCandidateScorerPolicy",
    "LLMActorCriticPolicy",
    "maskable_ppo",
]


def maskable_ppo() -> Any:
    """sb3-contrib's ``MaskablePPO`` class (ImportError naming the extra when missing)."""
    try:
        from sb3_contrib import MaskablePPO
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "MaskablePPO needs sb3-contrib: pip install stable-baselines3 sb3-contrib"
        ) from exc
    return MaskablePPO


# ---------------------------------------------------------------------- candidate ranking
class CandidateScorer(BaseFeaturesExtractor):
    """Scores ``k`` candidate rows with one shared MLP; also pools them for the value.

    Input: the flat ``Box(k * row)`` of :class:`~thinkgym.envs.wrappers.CandidateStepWrapper`
    (each row ``[valid, features...]``). Output: ``k`` scores, then ``2 * hidden`` pooled
    features (mean and max of the row embeddings over the valid rows).

    Args:
        observation_space: the wrapper's observation space.
        k: number of candidate slots.
        hidden: width of the shared MLP.
        layers: hidden layers of the shared MLP.
    """

    def __init__(self, observation_space: Any, k: int, hidden: int = 128, layers: int = 2) -> None:
        size = int(np.prod(observation_space.shape))
        if size % k:
            raise ValueError(
                f"an observation of {size} numbers cannot hold {k} equal candidate rows; use "
                "this extractor with CandidateStepWrapper(env, k)"
            )
        super().__init__(observation_space, features_dim=k + 2 * hidden)
        self.k, self.row, self.hidden = int(k), size // k, int(hidden)
        mods: list[nn.Module] = []
        width = self.row - 1
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.phi = nn.Sequential(*mods)
        self.score = nn.Linear(hidden, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``(B, k * row) -> (B, k + 2 * hidden)``."""
        x = obs.reshape(obs.shape[0], self.k, self.row)
        valid = x[..., :1]  # (B, k, 1)
        h = self.phi(x[..., 1:])  # (B, k, H)
        scores = self.score(h).squeeze(-1)  # (B, k)
        n = valid.sum(1)  # (B, 1)
        mean = (h * valid).sum(1) / n.clamp(min=1.0)
        top = (h * valid - (1.0 - valid) * 1e4).max(1).values
        top = torch.where(n > 0.5, top, torch.zeros_like(top))  # no valid row: pool to 0
        return torch.cat([scores, mean, top], dim=1)


class _Columns(nn.Module):
    def __init__(self, start: int, stop: int | None) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.stop]


class _ScorerMixin:
    """Turns an SB3 actor-critic policy into a candidate ranker (see the module docstring)."""

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        hidden: int = 128,
        layers: int = 2,
        **kwargs: Any,
    ) -> None:
        if not hasattr(action_space, "n"):
            raise ValueError(
                f"{type(self).__name__} needs a Discrete action space (CandidateStepWrapper), "
                f"got {action_space}"
            )
        self.hidden, self.layers = int(hidden), int(layers)
        kwargs["net_arch"] = []
        kwargs["features_extractor_class"] = CandidateScorer
        kwargs["features_extractor_kwargs"] = {
            "k": int(action_space.n),
            "hidden": self.hidden,
            "layers": self.layers,
        }
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)  # type: ignore[call-arg]

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)  # type: ignore[misc]
        k = int(self.action_space.n)  # type: ignore[attr-defined]
        # Logits are the extractor's k scores; the value reads the pooled part.
        self.action_net = _Columns(0, k)
        head = nn.Linear(2 * self.hidden, 1)
        nn.init.orthogonal_(head.weight, gain=1.0)
        nn.init.zeros_(head.bias)
        self.value_net = nn.Sequential(_Columns(k, None), head)
        score = self.features_extractor.score  # type: ignore[attr-defined]
        nn.init.orthogonal_(score.weight, gain=0.01)  # near-uniform first policy
        nn.init.zeros_(score.bias)
        self.optimizer = self.optimizer_class(  # type: ignore[attr-defined]
            self.parameters(),  # type: ignore[attr-defined]
            lr=lr_schedule(1),
            **self.optimizer_kwargs,  # type: ignore[attr-defined]
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        for key in ("net_arch", "features_extractor_class", "features_extractor_kwargs"):
            data.pop(key, None)
        data.update(hidden=self.hidden, layers=self.layers)
        return data


class CandidateScorerPolicy(_ScorerMixin, ActorCriticPolicy):
    """Candidate-ranking actor-critic for ``PPO`` and ``A2C`` (``policy_kwargs``: ``hidden``,
    ``layers``)."""


def _maskable_base() -> type:
    try:
        from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    except ImportError:  # pragma: no cover - exercised only without the extra
        return ActorCriticPolicy
    return MaskableActorCriticPolicy


class MaskableCandidateScorerPolicy(_ScorerMixin, _maskable_base()):  # type: ignore[misc]
    """Candidate-ranking actor-critic for sb3-contrib's ``MaskablePPO``."""


# ---------------------------------------------------------------------- the LLM as an SB3 policy
class LLMActorCriticPolicy(ActorCriticPolicy):
    """An SB3 actor-critic whose actor is a transformers causal LM (token-level PPO).

    Works on :class:`~thinkgym.envs.wrappers.TokenLevelWrapper` observations (the last token ids
    and their count). The action distribution is the LM's next-token distribution at the last
    real token; the value is a small MLP head on the LM's last hidden state there (by default on
    a detached copy, so the value loss does not move the LM: only the policy-gradient loss
    does). ``PPO(LLMActorCriticPolicy, env, policy_kwargs={"model": DIR})`` then trains the LM
    itself with SB3's ``learn()``; use a small ``learning_rate`` (e.g. ``1e-5``).

    Args:
        observation_space: the wrapper's ``Box``.
        action_space: ``Discrete(vocab)``; at most the LM's output size.
        lr_schedule: SB3's learning-rate schedule.
        model: a directory saved with ``save_pretrained`` (tokenizer included), or a
            ``PreTrainedModel`` (then pass ``tokenizer`` too).
        tokenizer: the tokenizer when ``model`` is an object (default: loaded from ``model``).
        value_hidden: width of the value head.
        detach_value: keep the value loss out of the LM (default ``True``).
        **kwargs: the usual ``ActorCriticPolicy`` arguments (``optimizer_class``, ...).
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        model: Any = None,
        tokenizer: Any = None,
        value_hidden: int = 64,
        detach_value: bool = True,
        **kwargs: Any,
    ) -> None:
        if model is None:
            raise ValueError(
                "LLMActorCriticPolicy needs policy_kwargs={'model': DIR} (a directory saved with "
                "save_pretrained, e.g. thinkgym/data/policy) or a PreTrainedModel"
            )
        if not hasattr(action_space, "n"):
            raise ValueError(
                f"LLMActorCriticPolicy needs Discrete(vocab) actions (TokenLevelWrapper), got "
                f"{action_space}"
            )
        self._init_args = (model, tokenizer)  # a tuple: modules cannot be set before __init__
        self.value_hidden, self.detach_value = int(value_hidden), bool(detach_value)
        kwargs.pop("net_arch", None)
        super().__init__(observation_space, action_space, lr_schedule, net_arch=[], **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model, tokenizer = self._init_args
        if isinstance(model, (str, Path)):
            path = Path(model)
            if not (path / "config.json").is_file():
                raise FileNotFoundError(
                    f"model={str(model)!r} is not a directory saved with save_pretrained "
                    "(no config.json); e.g. use thinkgym/data/policy"
                )
            self.lm = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
            self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(path))
        else:
            self.lm = model.float()
            self.tokenizer = tokenizer
        out_size = self.lm.get_output_embeddings().weight.shape[0]
        self.n_actions = int(self.action_space.n)  # type: ignore[attr-defined]
        if self.n_actions > out_size:
            raise ValueError(
                f"the action space has {self.n_actions} tokens but the LM scores {out_size}; "
                "build the TokenLevelWrapper with this model's tokenizer"
            )
        width = int(self.lm.config.hidden_size)
        self.value_head = nn.Sequential(
            nn.Linear(width, self.value_hidden), nn.Tanh(), nn.Linear(self.value_hidden, 1)
        )
        self.optimizer = self.optimizer_class(
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.pop("net_arch", None)
        model = self._init_args[0]
        if not isinstance(model, (str, Path)):
            model = getattr(self.lm.config, "_name_or_path", None) or None
        data.update(model=str(model) if model else None, value_hidden=self.value_hidden)
        data.update(detach_value=self.detach_value)
        return data

    # -- the network
    def _lm_step(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Next-token logits ``(B, n_actions)`` and last hidden state ``(B, H)``."""
        ids = obs[:, :-1].long()
        n = obs[:, -1].long().clamp(min=1)
        width = ids.shape[1]
        start = width - int(n.max())
        ids = ids[:, start:]
        pos = torch.arange(ids.shape[1], device=ids.device)
        mask = pos[None, :] >= (ids.shape[1] - n)[:, None]  # right-aligned real tokens
        position_ids = (mask.long().cumsum(1) - 1).clamp(min=0)
        out = self.lm(
            input_ids=ids,
            attention_mask=mask.long(),
            position_ids=position_ids,
            output_hidden_states=True,
            use_cache=False,
        )
        logits = out.logits[:, -1, : self.n_actions].float()
        return logits, out.hidden_states[-1][:, -1, :].float()

    def _value(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.value_head(hidden.detach() if self.detach_value else hidden)

    def forward(
        self, obs: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or pick the greedy) next token; returns ``(actions, values, log_prob)``."""
        logits, hidden = self._lm_step(obs)
        dist = self.action_dist.proba_distribution(action_logits=logits)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, self._value(hidden), dist.log_prob(actions)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probs of ``actions`` and entropies, for PPO's loss."""
        logits, hidden = self._lm_step(obs)
        dist = self.action_dist.proba_distribution(action_logits=logits)
        return self._value(hidden), dist.log_prob(actions), dist.entropy()

    def get_distribution(self, obs: torch.Tensor) -> Any:
        """The next-token distribution."""
        logits, _ = self._lm_step(obs)
        return self.action_dist.proba_distribution(action_logits=logits)

    def predict_values(self, obs: torch.Tensor) -> torch.Tensor:
        """The value head's estimate."""
        _, hidden = self._lm_step(obs)
        return self._value(hidden)

    def save_pretrained(self, path: str | Path) -> None:
        """Save the LM (safetensors) and its tokenizer; ``LLMPolicy.from_pretrained`` loads it."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.lm.save_pretrained(str(path), safe_serialization=True)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(str(path))
