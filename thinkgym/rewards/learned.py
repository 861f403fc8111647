"""`LearnedRewardModel`: a transformers model with a scalar head, used as an ORM or a PRM.

The model is any ``AutoModelForTokenClassification`` with ``num_labels=1`` (thinkgym builds a
tiny ``LlamaForTokenClassification`` from :mod:`thinkgym.models` when no weights are
given). The head gives one logit per token; a score is the sigmoid of that logit at a chosen
position:

* **ORM**: at the last token of the transcript;
* **PRM**: at the newline that ends each step, so every step prefix of a transcript is scored in
  one forward pass (causal attention: the logit at a step's newline sees only the problem and the
  steps up to it).

Training lives in the learning layer (:func:`thinkgym.learning.reward_models.train_reward_model`):
binary cross-entropy on the labeled positions; labels may be soft (Math-Shepherd's share of
successful rollouts).
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from thinkgym.rewards.combinators import AGGREGATIONS, ComposableReward, aggregate

if TYPE_CHECKING:
    from thinkgym.envs.base import EnvState

__all__ = ["KINDS", "LearnedRewardModel"]

KINDS = ("prm", "orm")
_META_FILE = "thinkgym_reward.json"


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} must be one of {KINDS}: 'prm' scores steps, 'orm' texts")
    return kind


class LearnedRewardModel(ComposableReward):
    """A reward model with a scalar head over a causal transformer.

    Args:
        model: an ``AutoModelForTokenClassification``-style model with ``num_labels == 1``.
        tokenizer: its (fast) tokenizer; offsets are used to find the newline ending each step.
        kind: ``"prm"`` (process: one score per step) or ``"orm"`` (outcome: one per transcript).
            Both scoring methods work for either kind; ``kind`` decides how the model acts as a
            :class:`~thinkgym.rewards.Reward` and what
            :func:`~thinkgym.learning.reward_models.train_reward_model` trains.
        problem_lines: how many lines the problem takes at the start of a transcript (steps are
            the lines after it). ``None``: the bound env's ``problem_line_count``, else 1.
        batch_size: texts per forward pass when scoring.
        outcome_how: for a PRM used as a reward, how :meth:`outcome` turns the step scores of the
            whole trajectory into one number (``"last"``, ``"min"``, ``"prod"``, ``"mean"``).

    Attributes:
        forward_calls: number of forward passes run so far (for cost accounting).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        kind: str = "prm",
        problem_lines: int | None = None,
        batch_size: int = 32,
        outcome_how: str = "last",
    ) -> None:
        n_labels = getattr(getattr(model, "config", None), "num_labels", None)
        if n_labels != 1:
            raise ValueError(
                f"the model has num_labels={n_labels!r}; a reward model needs a scalar head "
                "(AutoModelForTokenClassification with num_labels=1)"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError("the tokenizer must be a fast tokenizer (it needs offset mappings)")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
        if problem_lines is not None and (
            not isinstance(problem_lines, int)
            or isinstance(problem_lines, bool)
            or problem_lines < 0
        ):
            raise ValueError(f"problem_lines={problem_lines!r} must be None or an integer >= 0")
        if not callable(outcome_how) and outcome_how not in AGGREGATIONS:
            raise ValueError(
                f"outcome_how={outcome_how!r} must be one of {AGGREGATIONS} or a callable"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.kind = _check_kind(kind)
        self.problem_lines = problem_lines
        self.batch_size = int(batch_size)
        self.outcome_how = outcome_how
        self.forward_calls = 0

    def __repr__(self) -> str:
        cfg = self.model.config
        return (
            f"LearnedRewardModel(kind={self.kind!r}, model={type(self.model).__name__}, "
            f"hidden_size={getattr(cfg, 'hidden_size', '?')}, "
            f"layers={getattr(cfg, 'num_hidden_layers', '?')})"
        )

    # ------------------------------------------------------------------ building and saving
    @classmethod
    def build(
        cls,
        tokenizer: Any = None,
        *,
        kind: str = "prm",
        seed: int = 0,
        problem_lines: int | None = None,
        **config_kwargs: Any,
    ) -> LearnedRewardModel:
        """A freshly initialised tiny ``LlamaForTokenClassification`` reward model (seeded).

        Args:
            tokenizer: defaults to :func:`thinkgym.models.build_char_tokenizer`.
            kind: ``"prm"`` or ``"orm"``.
            seed: torch seed of the initial weights.
            problem_lines: see the class docstring.
            **config_kwargs: passed to :func:`thinkgym.models.tiny_llama_config`
                (``hidden_size``, ``layers``, ``heads``, ``max_positions``, ...).
        """
        import torch
        from transformers import LlamaForTokenClassification

        from thinkgym.models import build_char_tokenizer, tiny_llama_config

        tokenizer = build_char_tokenizer() if tokenizer is None else tokenizer
        config = tiny_llama_config(len(tokenizer), tokenizer=tokenizer, **config_kwargs)
        config.num_labels = 1
        config.tie_word_embeddings = False  # no LM head to tie to
        torch.manual_seed(seed)
        model = LlamaForTokenClassification(config)
        model.eval()
        return cls(model, tokenizer, kind=kind, problem_lines=problem_lines)

    @classmethod
    def from_policy(
        cls,
        policy: Any = None,
        *,
        kind: str = "prm",
        seed: int = 0,
        problem_lines: int | None = None,
    ) -> LearnedRewardModel:
        """A reward model that starts from a policy's transformer and a fresh scalar head.

        This is how ORMs and PRMs are usually initialised (from the policy or base LM): the
        model already reads the task's text, so a few thousand labels go further than with a
        model trained from scratch.

        Args:
            policy: an :class:`~thinkgym.agents.llm.LLMPolicy` (its weights are copied, the
                policy is left as it is), a folder with a causal LM saved by
                ``save_pretrained``, or ``None`` for the shipped default policy.
            kind: ``"prm"`` or ``"orm"``.
            seed: torch seed of the new head's weights.
            problem_lines: see the class docstring.

        Raises:
            FileNotFoundError: ``policy`` is a path that is not a folder.
            TypeError: ``policy`` is neither a policy with ``model``/``tokenizer`` nor a path.
        """
        import copy

        import torch
        from transformers import AutoModelForTokenClassification

        _check_kind(kind)
        if policy is None:
            from thinkgym.models import default_policy_dir

            policy = default_policy_dir()
        if isinstance(policy, (str, os.PathLike)):
            if not os.path.isdir(policy):
                raise FileNotFoundError(
                    f"{os.fspath(policy)!r} is not a folder with a saved causal LM; pass an "
                    "LLMPolicy, a save_pretrained folder, or None for the shipped policy"
                )
            from thinkgym.checkpoints import load_pretrained, load_tokenizer

            # the new scalar head is missing from a causal LM, whose LM head goes unused
            model = load_pretrained(
                AutoModelForTokenClassification,
                policy,
                what="policy",
                allow_missing=("score.*",),
                allow_unexpected=("lm_head.*",),
                num_labels=1,
                dtype=torch.float32,
            )
            tokenizer = load_tokenizer(policy, what="policy")
        elif hasattr(policy, "model") and hasattr(policy, "tokenizer"):
            config = copy.deepcopy(policy.model.config)
            config.num_labels = 1
            model = AutoModelForTokenClassification.from_config(config)
            backbone = getattr(policy.model, policy.model.base_model_prefix)
            getattr(model, model.base_model_prefix).load_state_dict(backbone.state_dict())
            model = model.to(device="cpu", dtype=torch.float32)
            tokenizer = copy.deepcopy(policy.tokenizer)
        else:
            raise TypeError(
                f"policy={type(policy).__name__} is neither an LLMPolicy nor a folder; pass an "
                "LLMPolicy, a save_pretrained folder, or None for the shipped policy"
            )
        model.config.tie_word_embeddings = False  # no LM head to tie to
        _init_head(model, seed)
        model.eval()
        return cls(model, tokenizer, kind=kind, problem_lines=problem_lines)

    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Save weights (safetensors), config, tokenizer and the reward settings."""
        os.makedirs(directory, exist_ok=True)
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        meta = {
            "kind": self.kind,
            "problem_lines": self.problem_lines,
            "outcome_how": self.outcome_how,
        }
        with open(os.path.join(directory, _META_FILE), "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2)

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike[str], trust_remote_code: bool = False, **kwargs: Any
    ) -> LearnedRewardModel:
        """Load a reward model saved by :meth:`save_pretrained` (or any token-classification
        checkpoint with ``num_labels=1`` and a fast tokenizer).

        Args:
            directory: the checkpoint folder.
            trust_remote_code: passed to transformers; keep ``False`` unless you trust the code.
            **kwargs: override the saved settings (``kind``, ``problem_lines``, ...).

        Raises:
            FileNotFoundError: no such folder (no model hub is contacted).
            thinkgym.checkpoints.CheckpointError: not a model folder, corrupt files, weights that
                do not fit the config, or a bad ``thinkgym_reward.json`` (unknown keys or values).
        """
        from transformers import AutoModelForTokenClassification

        from thinkgym.checkpoints import CheckpointError, load_pretrained, load_tokenizer, read_json

        model = load_pretrained(
            AutoModelForTokenClassification,
            directory,
            what="reward model",
            trust_remote_code=trust_remote_code,
        )
        model.eval()
        tokenizer = load_tokenizer(
            directory, what="reward model", trust_remote_code=trust_remote_code
        )
        meta: dict[str, Any] = {}
        path = os.path.join(directory, _META_FILE)
        if os.path.exists(path):
            meta = read_json(path)
            unknown = sorted(set(meta) - {"kind", "problem_lines", "outcome_how"})
            if unknown:
                raise CheckpointError(
                    f"{path}: unknown settings {unknown}; known: kind, problem_lines, outcome_how"
                )
        meta.update(kwargs)
        try:
            return cls(model, tokenizer, **meta)
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: {' '.join(str(exc).split())}") from None

    # ------------------------------------------------------------------ encoding
    def _problem_lines(self) -> int:
        if self.problem_lines is not None:
            return int(self.problem_lines)
        env = self.env
        return int(getattr(env, "problem_line_count", 1)) if env is not None else 1

    def _max_tokens(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 512))

    def _encode(self, texts: Sequence[str], steps: bool) -> list[tuple[list[int], list[int]]]:
        """Token ids of each text and the token indices to read (left-truncated to fit)."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, e.g. [transcript], not a single string")
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if steps:  # every step, the last one included, ends with a newline
            texts = [t if t.endswith("\n") else t + "\n" for t in texts]
        enc = self.tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=True, padding=False
        )
        out = []
        limit = self._max_tokens()
        skip = self._problem_lines()
        for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"], strict=True):
            ids = list(ids)
            if steps:
                ends = [e for _, e in offsets]
                newlines = [i for i, ch in enumerate(text) if ch == "\n"]
                pos = [bisect.bisect_right(ends, c) for c in newlines][skip:]
            else:
                pos = [len(ids) - 1]
            cut = max(len(ids) - limit, 0)
            if cut:  # keep the end; positions that fall off are marked -1 (scored NaN)
                ids = ids[cut:]
                pos = [p - cut if p >= cut else -1 for p in pos]
            out.append((ids, pos))
        return out

    def _collate(self, rows: Sequence[list[int]]) -> tuple[Any, Any, Any, list[int]]:
        """Pad to one batch (tokenizer's padding side); returns ids, mask, positions, offsets."""
        import torch

        width = max(1, max(len(r) for r in rows))
        pad = self.tokenizer.pad_token_id
        pad = 0 if pad is None else int(pad)
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        offsets = []
        for b, row in enumerate(rows):
            off = width - len(row) if left else 0
            if row:
                ids[b, off : off + len(row)] = torch.tensor(row, dtype=torch.long)
                mask[b, off : off + len(row)] = 1
            offsets.append(off)
        # Positions count real tokens only, so left padding does not shift RoPE positions.
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids, mask, position_ids, offsets

    def _logits(self, rows: Sequence[list[int]]) -> tuple[Any, list[int]]:
        """One forward pass: per-token head logits ``(B, T)`` and each row's pad offset."""
        ids, mask, position_ids, offsets = self._collate(rows)
        device = next(self.model.parameters()).device
        out = self.model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=position_ids.to(device),
        )
        self.forward_calls += 1
        return out.logits[..., 0], offsets

    def _score(self, texts: Sequence[str], steps: bool) -> list[list[float]]:
        import torch

        encoded = self._encode(texts, steps)
        scores: list[list[float]] = []
        with torch.no_grad():
            for start in range(0, len(encoded), self.batch_size):
                chunk = encoded[start : start + self.batch_size]
                logits, offsets = self._logits([ids for ids, _ in chunk])
                probs = torch.sigmoid(logits.float()).cpu()
                for b, (_, pos) in enumerate(chunk):
                    scores.append(
                        [float(probs[b, offsets[b] + p]) if p >= 0 else math.nan for p in pos]
                    )
        return scores

    # ------------------------------------------------------------------ scoring
    def score_transcripts(self, texts: Sequence[str]) -> list[float]:
        """ORM scores in [0, 1]: the head at the last token of each text (batched)."""
        return [s[0] if s else math.nan for s in self._score(texts, steps=False)]

    def score_steps(self, texts: Sequence[str]) -> list[list[float]]:
        """PRM scores in [0, 1]: one per step line after the problem line(s) of each text.

        Every step prefix of a text is scored in the same forward pass (the head at the newline
        that ends the step; a newline is appended to the last step when missing). Texts are
        batched ``batch_size`` at a time. A step cut off by left truncation scores NaN.
        """
        return self._score(texts, steps=True)

    # ------------------------------------------------------------------ as a Reward
    def _transcript(self, state: EnvState) -> str:
        if self.env is None:
            raise RuntimeError(
                "a LearnedRewardModel used as a reward needs the env to write transcripts; pass "
                "it to gym.make(..., reward=...) or call reward.bind(env) first"
            )
        return self.env.transcript(state)

    def value(self, state: EnvState) -> float:
        """The model's score of a state (a potential for :class:`PotentialShaping`).

        PRM: the score of the latest step prefix (the problem line's end when no step was
        taken). ORM: the transcript score.
        """
        text = self._transcript(state)
        if self.kind == "orm":
            return self.score_transcripts([text])[0]
        if not state.steps:
            enc = self._encode([text], steps=True)
            logits, offsets = self._logits([enc[0][0]])
            import torch

            return float(torch.sigmoid(logits[0, offsets[0] + len(enc[0][0]) - 1].detach()))
        return self.score_steps([text])[0][-1]

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """PRM: the score of the prefix ending with ``step`` (``next_state``'s transcript); ORM: 0."""
        if self.kind == "orm":
            return 0.0
        return self.score_steps([self._transcript(next_state)])[0][-1]

    def outcome(self, state: EnvState) -> float:
        """ORM: the transcript score; PRM: the step scores aggregated with ``outcome_how``."""
        text = self._transcript(state)
        if self.kind == "orm":
            return self.score_transcripts([text])[0]
        scores = self.score_steps([text])[0]
        return aggregate(scores, self.outcome_how) if scores else 0.0


# ---------------------------------------------------------------------- helpers
def _init_head(model: Any, seed: int) -> None:
    """Seeded normal(0, initializer_range) weights and zero biases for every parameter outside the
    backbone (the scalar head), the same whichever way the model was built."""
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    std = float(getattr(model.config, "initializer_range", 0.02))
    with torch.no_grad():
        for name, module in model.named_children():
            if name == model.base_model_prefix:
                continue
            for pname, param in module.named_parameters():
                if pname.endswith("bias"):
                    param.zero_()
                else:
                    param.copy_(torch.randn(param.shape, generator=gen) * std)
