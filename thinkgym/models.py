"""Model builders: a character-level tokenizer, small decoders built from a config, model paths.

No weights can be downloaded, so thinkgym trains its own small models. This module is the
model-builder layer: it imports only :mod:`thinkgym.envs` (for the charset), so rewards, agents
and learning may all build models from it. The tokenizer is built with
the ``tokenizers`` library and wrapped as a :class:`transformers.PreTrainedTokenizerFast`, so it
saves and loads with ``save_pretrained`` / ``from_pretrained`` like any other.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from thinkgym.envs.base import CHARSET

__all__ = [
    "SPECIAL_TOKENS",
    "build_char_tokenizer",
    "build_tiny_model",
    "default_policy_dir",
    "tiny_llama_config",
]

SPECIAL_TOKENS = {"pad": "<pad>", "bos": "<s>", "eos": "</s>", "unk": "<unk>"}


def default_policy_dir() -> Path:
    """Where the shipped default policy lives: ``thinkgym/data/policy/``."""
    return Path(str(resources.files("thinkgym.data").joinpath("policy")))


def build_char_tokenizer(extra_chars: str = "") -> Any:
    """A character-level tokenizer over the env charset (one token per character).

    Newline is a token of its own: generation of a step stops at it.

    Args:
        extra_chars: characters to add to the vocabulary beyond :data:`CHARSET`.

    Returns:
        A ``PreTrainedTokenizerFast`` with ``<pad>``, ``<s>``, ``</s>`` and ``<unk>`` specials.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = list(SPECIAL_TOKENS.values())
    chars = sorted(set(CHARSET) | set(extra_chars))
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=SPECIAL_TOKENS["unk"]))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=SPECIAL_TOKENS["pad"],
        bos_token=SPECIAL_TOKENS["bos"],
        eos_token=SPECIAL_TOKENS["eos"],
        unk_token=SPECIAL_TOKENS["unk"],
        clean_up_tokenization_spaces=False,
        padding_side="left",
    )
    return tok


def tiny_llama_config(
    vocab_size: int,
    hidden_size: int = 256,
    layers: int = 4,
    heads: int = 4,
    intermediate_size: int | None = None,
    max_positions: int = 512,
    tokenizer: Any = None,
) -> Any:
    """A small ``LlamaConfig`` (about 3 M parameters with the defaults)."""
    from transformers import LlamaConfig

    kwargs: dict[str, Any] = {}
    if tokenizer is not None:
        kwargs = {
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 4 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        **kwargs,
    )


def build_tiny_model(tokenizer: Any, seed: int = 0, **config_kwargs: Any) -> Any:
    """A freshly initialised ``LlamaForCausalLM`` sized for ``tokenizer`` (seeded)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = tiny_llama_config(len(tokenizer), tokenizer=tokenizer, **config_kwargs)
    return LlamaForCausalLM(config)
