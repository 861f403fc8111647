"""`LLMPolicy`: any transformers causal LM as a thinkgym policy (batched step proposals).

One call to :meth:`LLMPolicy.propose` samples ``n`` next steps for each of many observations in
a single batched ``generate`` call (left padding, KV cache), stopping at the end of the step line.

Log-probabilities and entropies are computed from the model's **unprocessed** logits at
temperature 1 (``log_softmax`` of the raw logits), whatever ``temperature``/``top_p`` the sampling
used, so that scores of proposals drawn with different settings are comparable. A proposal's
``logprob`` sums the log-probabilities of its generated tokens up to and including the newline
that ends the step (or the eos token); ``entropy`` is the mean over those tokens of the entropy of
the same distribution.

For RL each proposal also carries the sampled ``token_ids`` and their *behaviour* log-probs
(``behavior_logprobs``): log-probabilities under the distribution actually sampled, temperature
and top-p applied (``0`` per token for greedy decoding). :meth:`LLMPolicy.logprobs` recomputes
per-token log-probs of given continuations, teacher-forced through the same template and
encoding that SFT uses, under any temperature/top-p, with or without gradients.

A **prefix cache** (:class:`PrefixCache`) keeps the key/value cache of recent prompts: a new
prompt that starts with the tokens of an earlier one (a child state in a search tree, another
round of a planner, more samples of one problem) encodes only the tokens after the shared
prefix. The sampled tokens are those of a decode without it (``tests/agents/test_prefix_cache.py``
compares greedy and seeded sampling token for token); :attr:`PolicyStats.prefix_hit_rate` says
how much of the prompts it spared.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from thinkgym.agents.base import Proposal
from thinkgym.agents.prompting import PromptTemplate
from thinkgym.models import default_policy_dir  # re-exported: the model-builder layer owns it

__all__ = ["LLMPolicy", "PolicyStats", "PrefixCache", "default_policy_dir", "resolve_device"]

DEFAULT_BUILD_COMMAND = (
    "thinkgym train sft --recipe default --out runs/policy --export thinkgym/data/policy"
)


def resolve_device(device: Any = None) -> Any:
    """``None``/``"auto"`` -> CUDA when available, else CPU; anything else -> ``torch.device``."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype: Any) -> Any:
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    raise ValueError(
        f"dtype={dtype!r} is not a torch dtype; use e.g. 'float32', 'bfloat16' or 'float16'"
    )


@dataclass
class PolicyStats:
    """Running cost counters of a policy; planners budget with them.

    Attributes:
        calls: ``propose`` calls.
        sequences: sequences generated (rows, samples included).
        tokens: generated tokens counted in proposals (up to and including the stop token).
        seconds: wall time spent in ``propose``.
        prompt_tokens: tokens of the distinct prompts the decode loop had to encode (a prompt
            counts once per batch chunk, however many samples it has).
        cached_tokens: of those, the tokens whose keys/values came from the prefix cache
            instead of a forward pass.
    """

    calls: int = 0
    sequences: int = 0
    tokens: int = 0
    seconds: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    @property
    def prefix_hit_rate(self) -> float:
        """Share of prompt tokens served by the prefix cache (0 before any prompt)."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def as_dict(self) -> dict[str, float]:
        """The counters (and ``prefix_hit_rate``) as a plain dict."""
        return {**asdict(self), "prefix_hit_rate": self.prefix_hit_rate}

    def reset(self) -> None:
        """Zero the counters."""
        self.calls = self.sequences = self.tokens = 0
        self.prompt_tokens = self.cached_tokens = 0
        self.seconds = 0.0


class _TrieNode:
    """One token of the prefix trie; ``entry``: the newest cached prompt passing through it."""

    __slots__ = ("parent", "token", "children", "entry")

    def __init__(self, parent: _TrieNode | None, token: int | None) -> None:
        self.parent = parent
        self.token = token
        self.children: dict[int, _TrieNode] = {}
        self.entry: _Entry | None = None


class _Entry:
    """A cached prompt: its token ids, its keys/values ``(layers, 2, heads, len, head_dim)``."""

    __slots__ = ("key", "ids", "kv", "nbytes", "path")

    def __init__(self, key: int, ids: tuple[int, ...], kv: Any, path: list[_TrieNode]) -> None:
        self.key = key
        self.ids = ids
        self.kv = kv
        self.nbytes = int(kv.numel() * kv.element_size())
        self.path = path


class PrefixCache:
    """Keys and values of recent prompts, reused by any prompt that starts with the same tokens.

    Prompts are stored in a token trie; a lookup walks a new prompt's tokens down the trie and
    returns the newest cached prompt that shares the longest prefix with it, and the length of
    that prefix (the keys and values of a prefix depend only on its own tokens, so any cached
    prompt that starts with it can serve it). A cached prompt that is a prefix of a newly cached
    one is dropped at once (the new one holds it). Memory is bounded: past ``max_bytes`` the
    least recently used prompts are evicted.

    Args:
        max_bytes: the most bytes of keys/values held.

    Attributes:
        lookups: prompts looked up.
        hits: lookups that reused at least one token.
        evictions: prompts evicted to stay within ``max_bytes``.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes={max_bytes} must be >= 0 (0 keeps nothing)")
        self.max_bytes = int(max_bytes)
        self.bytes = 0
        self.lookups = self.hits = self.evictions = 0
        self._root = _TrieNode(None, None)
        self._lru: OrderedDict[int, _Entry] = OrderedDict()
        self._next_key = 0

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def tokens(self) -> int:
        """Tokens held (summed over the cached prompts)."""
        return sum(len(e.ids) for e in self._lru.values())

    def clear(self) -> None:
        """Drop every cached prompt (the counters stay)."""
        self._root = _TrieNode(None, None)
        self._lru.clear()
        self.bytes = 0

    def lookup(self, ids: Sequence[int], limit: int) -> tuple[_Entry | None, int]:
        """The cached prompt sharing the longest prefix with ``ids[:limit]``, and its length.

        Returns:
            ``(entry, length)``; ``(None, 0)`` when no cached prompt starts like ``ids``.
        """
        self.lookups += 1
        node, depth = self._root, 0
        children = node.children
        for depth_next in range(min(limit, len(ids))):
            child = children.get(ids[depth_next])
            if child is None:
                break
            node, children, depth = child, child.children, depth_next + 1
        if depth == 0 or node.entry is None:
            return None, 0
        self.hits += 1
        self._lru.move_to_end(node.entry.key)
        return node.entry, depth

    def holds(self, ids: Sequence[int]) -> bool:
        """Whether a cached prompt holds all of ``ids`` (it starts with them)."""
        node = self._root
        for tok in ids:
            node = node.children.get(tok)
            if node is None:
                return False
        return node.entry is not None and node is not self._root

    def covers(self, ids: Sequence[int], entry: _Entry | None, length: int) -> bool:
        """Whether ``entry`` (found by :meth:`lookup` with ``length``) holds all of ``ids``."""
        if entry is None or len(entry.ids) < len(ids):
            return False
        return length == len(ids) or tuple(entry.ids[length : len(ids)]) == tuple(ids[length:])

    def insert(self, ids: Sequence[int], kv: Any) -> bool:
        """Cache ``kv`` (``(layers, 2, heads, len(ids), head_dim)``) as the prompt ``ids``.

        Returns:
            ``False`` when nothing was stored (already held by a longer prompt, or larger than
            ``max_bytes``).
        """
        ids = tuple(int(i) for i in ids)
        if not ids:
            return False
        node, path, ending = self._root, [], []
        for depth, tok in enumerate(ids, 1):
            child = node.children.get(tok)
            if child is None:
                child = _TrieNode(node, tok)
                node.children[tok] = child
            node = child
            path.append(node)
            held = node.entry
            if held is not None and len(held.ids) == depth and depth < len(ids):
                ending.append(held)  # a cached prompt that the new one extends: redundant now
        if node.entry is not None:  # a cached prompt already holds all of ids
            self._lru.move_to_end(node.entry.key)
            return False
        entry = _Entry(self._next_key, ids, kv, path)
        if entry.nbytes > self.max_bytes:
            self._prune(path, None)
            return False
        self._next_key += 1
        for n in path:
            n.entry = entry
        for old in ending:  # its nodes all lie on the new path and now point to the new entry
            if self._lru.pop(old.key, None) is not None:
                self.bytes -= old.nbytes
        self._lru[entry.key] = entry
        self.bytes += entry.nbytes
        while self.bytes > self.max_bytes and self._lru:
            self._evict(next(iter(self._lru.values())))
        return True

    def _evict(self, entry: _Entry) -> None:
        del self._lru[entry.key]
        self.bytes -= entry.nbytes
        self.evictions += 1
        self._prune(entry.path, entry)

    @staticmethod
    def _prune(path: list[_TrieNode], entry: _Entry | None) -> None:
        """Re-point the nodes of ``path`` that point to ``entry`` to a live entry passing
        through a child (deepest first); remove nodes that no live entry passes through."""
        for node in reversed(path):
            if node.entry is not entry:
                break  # the shallower nodes were re-pointed by a newer entry
            node.entry = next(
                (c.entry for c in node.children.values() if c.entry is not None), None
            )
            if node.entry is None and not node.children and node.parent is not None:
                del node.parent.children[node.token]


class LLMPolicy:
    """A transformers causal LM and its tokenizer, proposing one-line reasoning steps.

    Args:
        model: a ``PreTrainedModel`` with a causal LM head.
        tokenizer: its tokenizer.
        template: how observations become model input (default: :meth:`PromptTemplate.plain`).
        device: ``None``/``"auto"`` (CUDA when available), or a device.
        dtype: parameter dtype (default ``float32``); ``"bfloat16"``/``"float16"`` on GPUs.
        max_prompt_tokens: longer prompts keep their *last* tokens (left truncation); default:
            the model's context minus ``max_new_tokens`` of a call.
        max_batch_rows: rows (observations x samples) per forward batch; larger requests are
            split into chunks (rows sorted by prompt length, so a chunk pads little). Default:
            64 on a CPU, where larger batches run slower per token (``benchmarks/decode.py``:
            one 256-row batch takes about twice as long as four chunks of 64), and 4096 on a GPU.
        compact: decode with the policy's own loop, which drops every row from the batch as
            soon as it has written its newline (steps differ in length, so ``generate`` would
            keep computing finished rows until the longest one ends); ``False``, or a model
            whose ``forward`` takes no ``position_ids``/``past_key_values``, uses transformers'
            ``generate``. Both sample from the same distribution.
        prefix_cache_mb: memory (MiB) for the :class:`PrefixCache` of the decode loop: prompts
            that start with the tokens of a recent prompt reuse its keys/values and encode only
            the rest. ``0`` turns it off. It holds key/value tensors on the model's device; it
            is emptied whenever the model's weights change (an optimizer step, a loaded state)
            and unused while the model is in training mode. Used by the ``compact`` loop on
            models whose cache is one plain (full-attention) key/value pair per layer.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        template: PromptTemplate | None = None,
        device: Any = None,
        dtype: Any = None,
        max_prompt_tokens: int | None = None,
        max_batch_rows: int | None = None,
        compact: bool = True,
        prefix_cache_mb: float = 512.0,
    ) -> None:
        if max_batch_rows is not None and max_batch_rows < 1:
            raise ValueError(f"max_batch_rows={max_batch_rows} must be >= 1")
        if not 0 <= prefix_cache_mb < float("inf"):
            raise ValueError(
                f"prefix_cache_mb={prefix_cache_mb!r} must be a finite number >= 0 (0: no cache)"
            )
        self.device = resolve_device(device)
        if max_batch_rows is None:
            max_batch_rows = 4096 if self.device.type == "cuda" else 64
        self.model = model.to(device=self.device, dtype=_resolve_dtype(dtype))
        self.model.eval()
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.template = template or PromptTemplate.plain()
        self.max_prompt_tokens = max_prompt_tokens
        self.max_batch_rows = int(max_batch_rows)
        params = set(inspect.signature(model.forward).parameters)
        # transformers renamed ``past_key_values`` to ``cache`` (5.2x); take whichever it has
        self._cache_arg = next((a for a in ("cache", "past_key_values") if a in params), None)
        self.compact = bool(compact) and "position_ids" in params and self._cache_arg is not None
        self._last_logits_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self.stats = PolicyStats()
        self.progress_hook: Any = None
        """``None``, or a function called with the number of rows (observations x samples) of
        each forward chunk as it finishes inside :meth:`propose`: a progress bar's counter
        (:class:`thinkgym.search.progress.SearchProgress` sets it while a search runs)."""
        self._newline_id = self._single_newline_token()
        self._stop_ids: set[int] | None = None
        self.prefix_cache: PrefixCache | None = (
            PrefixCache(int(prefix_cache_mb * 2**20)) if prefix_cache_mb > 0 else None
        )
        self._weights_seen: tuple[Any, ...] | None = None
        self._kv_layers: int | None | bool = False  # False: not probed yet; None: unsupported

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        path_or_dir: str | Path,
        *,
        device: Any = None,
        dtype: Any = None,
        trust_remote_code: bool = False,
        template: PromptTemplate | None = None,
        **kwargs: Any,
    ) -> LLMPolicy:
        """Load a tokenizer and causal LM saved with ``save_pretrained`` (or a hub-style dir).

        Args:
            path_or_dir: a local directory (nothing is downloaded by thinkgym itself).
            device: see :class:`LLMPolicy`.
            dtype: see :class:`LLMPolicy`.
            trust_remote_code: allow custom model code shipped with the checkpoint (off: loading
                a stranger's checkpoint then runs none of its code).
            template: prompt template; default plain.
            **kwargs: passed to :class:`LLMPolicy`.

        Raises:
            FileNotFoundError: no such directory (no model hub is contacted).
            thinkgym.checkpoints.CheckpointError: not a model directory, a corrupt or truncated
                file, or a config that does not fit the weights.
        """
        from transformers import AutoModelForCausalLM

        from thinkgym.checkpoints import load_pretrained, load_tokenizer

        model = load_pretrained(
            AutoModelForCausalLM,
            path_or_dir,
            what="policy",
            trust_remote_code=trust_remote_code,
            dtype=_resolve_dtype(dtype),
        )
        tokenizer = load_tokenizer(path_or_dir, what="policy", trust_remote_code=trust_remote_code)
        return cls(model, tokenizer, template=template, device=device, dtype=dtype, **kwargs)

    @classmethod
    def default(cls, *, device: Any = None, dtype: Any = None, **kwargs: Any) -> LLMPolicy:
        """The shipped default policy from ``thinkgym/data/policy/`` (offline).

        ``kwargs`` go to the constructor (``template``, ``max_batch_rows``, ...).

        Raises:
            FileNotFoundError: the package has no trained policy; the message says how to build
                one.
        """
        path = default_policy_dir()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"no shipped policy at {path}; build it with `{DEFAULT_BUILD_COMMAND}` "
                "(see README.md), or load your own with LLMPolicy.from_pretrained(DIR)"
            )
        return cls.from_pretrained(path, device=device, dtype=dtype, **kwargs)

    def save_pretrained(self, path: str | Path, *, dtype: Any = None) -> None:
        """Save model (safetensors) and tokenizer; ``dtype`` casts a copy (e.g. ``float16``)."""
        import copy

        model = self.model
        if dtype is not None:
            model = copy.deepcopy(model).to(_resolve_dtype(dtype))
        model.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))

    # ------------------------------------------------------------------ agent API
    def act(self, observation: str, info: dict[str, Any] | None = None) -> str:
        """Greedy next step for the :class:`~thinkgym.agents.base.Agent` protocol."""
        return self.propose([observation], 1, temperature=0.0)[0][0].text

    def propose(
        self,
        observations: Sequence[str],
        n: int = 1,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        merge_duplicates: bool = False,
        seed: int | None = None,
    ) -> list[list[Proposal]]:
        """Sample ``n`` next steps for each observation in one batched ``generate`` call.

        Args:
            observations: transcripts so far.
            n: proposals per observation.
            temperature: sampling temperature; ``0`` means greedy (the ``n`` proposals are then
                identical copies of one decode).
            top_p: nucleus sampling mass.
            max_new_tokens: longest step generated; a step cut there has no newline.
            merge_duplicates: merge proposals with identical text (``count`` holds the number
                of samples; the log-prob is that of the text, the same for every copy).
            seed: makes the sampling reproducible (the global RNG is left untouched).

        Returns:
            For each observation, its proposals (``n`` of them unless merged), each with its
            text (one stripped line), summed log-prob and mean entropy under the unprocessed
            temperature-1 distribution, and its token count.
        """
        import torch

        if n < 1:
            raise ValueError(f"n={n} must be >= 1")
        if temperature < 0:
            raise ValueError(f"temperature={temperature} must be >= 0 (0 means greedy)")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p={top_p} must be in (0, 1]")
        if isinstance(observations, str):
            raise TypeError("observations must be a sequence of strings; wrap one in a list")
        t0 = time.perf_counter()
        greedy = temperature == 0
        samples = 1 if greedy else n
        prompts = [self.template.render(obs, self.tokenizer) for obs in observations]
        rows = [p for p in prompts for _ in range(samples)]
        results: list[_Row] = []
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            # Similar lengths share a chunk (less padding); results go back to row order.
            order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
            by_row: dict[int, _Row] = {}
            for start in range(0, len(order), self.max_batch_rows):
                idx = order[start : start + self.max_batch_rows]
                chunk = [rows[r] for r in idx]
                compact = self.compact and self._newline_id is not None  # may turn off mid-call
                decode = self._decode if compact else self._generate
                got = decode(chunk, greedy, temperature, top_p, max_new_tokens)
                by_row.update(zip(idx, got, strict=True))
                if self.progress_hook is not None:
                    self.progress_hook(len(idx))
            results = [by_row[r] for r in range(len(rows))]
        out: list[list[Proposal]] = []
        for i in range(len(observations)):
            mine = results[i * samples : (i + 1) * samples]
            props = [Proposal(t, lp, ent, k, 1, ids, blp) for t, lp, ent, k, ids, blp in mine]
            if greedy:
                props = props * n
            if merge_duplicates:
                props = _merge(props)
            out.append(props)
        self.stats.calls += 1
        self.stats.sequences += len(rows)
        self.stats.tokens += sum(r[3] for r in results)
        self.stats.seconds += time.perf_counter() - t0
        return out

    def logprobs(
        self,
        prompts: Sequence[str],
        continuations: Sequence[str | Sequence[int]],
        *,
        grad: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        template: bool = True,
        max_prompt_tokens: int | None = None,
        batch_size: int | None = None,
    ) -> list[Any]:
        """Teacher-forced per-token log-probabilities of ``continuations`` after ``prompts``.

        The encoding is the one SFT trains on (:func:`thinkgym.learning.sft.encode_pairs`): the
        prompt is rendered by the policy's template and tokenised on its own (left-truncated),
        the continuation is appended as token ids. A continuation given as a string is tokenised
        without special tokens (SFT's targets are ``step + "\\n"``); given as token ids (a
        :class:`~thinkgym.agents.base.Proposal`'s ``token_ids``) it is used as is, so the
        log-probs are those of exactly the sampled tokens.

        Args:
            prompts: observations (transcripts), or raw text with ``template=False``.
            continuations: one per prompt: text or token ids.
            grad: keep the autograd graph (for a policy-gradient loss); otherwise no graph is
                built.
            temperature: score under ``softmax(logits / temperature)`` (``1``: the model's own
                distribution; the value a proposal was sampled at gives its behaviour log-probs).
            top_p: score under the nucleus distribution the sampler used (tokens outside it get
                ``-inf``).
            template: render prompts with the policy's template (``False``: prompts are final
                text, tokenised with no special tokens).
            max_prompt_tokens: longer prompts keep their last tokens (default: as ``propose``).
            batch_size: rows per forward pass (default: the policy's ``max_batch_rows``).

        Returns:
            One 1-D float tensor per continuation (its length: the continuation's tokens).
        """
        import torch

        if len(prompts) != len(continuations):
            raise ValueError(
                f"{len(prompts)} prompts but {len(continuations)} continuations; give one each"
            )
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings; wrap one in a list")
        if not 0 < top_p <= 1 or temperature < 0:
            raise ValueError(f"temperature={temperature} must be >= 0 and top_p={top_p} in (0, 1]")
        tok = self.tokenizer
        if template:
            texts = [self.template.render(p, tok) for p in prompts]
            special = self.template.adds_special_tokens
        else:
            texts, special = list(prompts), False
        p_ids = tok(texts, add_special_tokens=special)["input_ids"] if texts else []
        c_ids = [
            tok(c, add_special_tokens=False)["input_ids"] if isinstance(c, str) else list(c)
            for c in continuations
        ]
        longest = max((len(c) for c in c_ids), default=0)
        cap = max_prompt_tokens or self._prompt_cap(max(1, longest))
        p_ids = [p[-cap:] for p in p_ids]
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        rows = batch_size or self.max_batch_rows
        out: list[Any] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda r: len(p_ids[r]) + len(c_ids[r]))
        ctx = torch.enable_grad() if grad else torch.inference_mode()
        with ctx:
            for start in range(0, len(order), rows):
                idx = order[start : start + rows]
                width = max(len(p_ids[r]) + len(c_ids[r]) for r in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for j, r in enumerate(idx):  # right padding: positions start at 0 everywhere
                    seq = p_ids[r] + c_ids[r]
                    ids[j, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                    mask[j, : len(seq)] = 1
                ids, mask = ids.to(self.device), mask.to(self.device)
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
                for j, r in enumerate(idx):
                    a, k = len(p_ids[r]), len(c_ids[r])
                    if k == 0:
                        out[r] = logits.new_zeros(0)
                        continue
                    lp = _sampling_logprobs(logits[j, a - 1 : a - 1 + k], temperature, top_p)
                    out[r] = lp.gather(-1, ids[j, a : a + k, None]).squeeze(-1)
        return out

    # ------------------------------------------------------------------ internals
    def _single_newline_token(self) -> int | None:
        ids = self.tokenizer("\n", add_special_tokens=False)["input_ids"]
        if len(ids) == 1 and self.tokenizer.decode(ids) == "\n":
            return int(ids[0])
        return None

    def _stop_token_ids(self) -> set[int]:
        """Token ids whose text contains a newline (computed once; for stop detection)."""
        if self._stop_ids is None:
            if self._newline_id is not None:
                ids = {self._newline_id}
            else:
                ids = set()
                for tok, idx in self.tokenizer.get_vocab().items():
                    text = self.tokenizer.convert_tokens_to_string([tok])
                    if "\n" in text:
                        ids.add(int(idx))
            if self.tokenizer.eos_token_id is not None:
                ids.add(int(self.tokenizer.eos_token_id))
            self._stop_ids = ids
        return self._stop_ids

    def _prompt_cap(self, max_new_tokens: int) -> int:
        if self.max_prompt_tokens is not None:
            return self.max_prompt_tokens
        ctx = getattr(self.model.config, "max_position_embeddings", None) or 2048
        return max(8, int(ctx) - max_new_tokens)

    @property
    def _eos_ids(self) -> list[int]:
        ids = []
        if self._newline_id is not None:
            ids.append(self._newline_id)
        if self.tokenizer.eos_token_id is not None:
            ids.append(int(self.tokenizer.eos_token_id))
        return ids

    def _encode(self, texts: list[str], max_new: int) -> Any:
        tok = self.tokenizer
        tok.truncation_side = "left"  # long transcripts keep their last tokens
        return tok(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self._prompt_cap(max_new),
            add_special_tokens=self.template.adds_special_tokens,
        ).to(self.device)

    def _prefix_store(self) -> PrefixCache | None:
        """The prefix cache when it may be used now (emptied first if the weights changed)."""
        store = self.prefix_cache
        if store is None or self.model.training or self._kv_layer_count() is None:
            return None
        # an optimizer step or a loaded state dict bumps a parameter's version counter
        seen = (id(self.model), *((p.data_ptr(), p._version) for p in self.model.parameters()))
        if seen != self._weights_seen:
            store.clear()
            self._weights_seen = seen
        return store

    def _kv_layer_count(self) -> int | None:
        """Layers of the model's key/value cache when each is one plain full-attention pair
        (the decode loop then keeps it in preallocated buffers); ``None`` otherwise."""
        if self._kv_layers is False:
            self._kv_layers = None
            try:
                from transformers import DynamicCache
                from transformers.cache_utils import DynamicLayer

                probe = DynamicCache(config=self.model.config)
            except (ImportError, AttributeError, TypeError, ValueError, KeyError):
                probe = None
            layers = getattr(probe, "layers", None)
            if layers and all(type(layer) is DynamicLayer for layer in layers):
                self._kv_layers = len(layers)
        return self._kv_layers or None

    def _token_ids(self, texts: list[str], max_new: int) -> list[list[int]]:
        """The prompt token ids of ``texts`` as :meth:`_encode` gives them, unpadded."""
        tok = self.tokenizer
        tok.truncation_side = "left"
        return tok(
            texts,
            truncation=True,
            max_length=self._prompt_cap(max_new),
            add_special_tokens=self.template.adds_special_tokens,
        )["input_ids"]

    def _prefill(self, unique: list[str], max_new: int) -> tuple[Any, Any, Any, Any, Any]:
        """One forward pass over the distinct prompts; returns the output, the attention mask,
        the positions, the cache and the prompts' token ids (``None`` without buffered layers).

        With buffered layers the prompts' shared prefixes come from the prefix cache: each row
        is laid out as ``[pad][cached prefix][pad][new tokens]`` (the pads masked, positions
        counted over real tokens only, so every token sits at the position a full encoding
        gives it) and only the new tokens are computed; the prompts are then cached.
        """
        import torch

        n_layers = self._kv_layer_count()
        if n_layers is None:  # the model builds its own cache
            enc = self._encode(unique, max_new)
            mask = enc["attention_mask"]
            position = (mask.long().cumsum(-1) - 1).clamp(min=0)
            out = self.model(
                input_ids=enc["input_ids"],
                attention_mask=mask,
                position_ids=position,
                use_cache=True,
                **self._last_logits_only,
            )
            self.stats.prompt_tokens += int(mask.sum())
            return out, mask, position, _cache_of(out), None
        store = self._prefix_store()
        ids = self._token_ids(unique, max_new)
        found = [store.lookup(x, len(x) - 1) if store else (None, 0) for x in ids]
        reuse = [k for _, k in found]
        new = [len(x) - k for x, k in zip(ids, reuse, strict=True)]
        c, w = max(reuse), max(new)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        rows = [[pad] * (w - m) + x[k:] for x, k, m in zip(ids, reuse, new, strict=True)]
        masks = [
            [0] * (c - k) + [1] * k + [0] * (w - m) + [1] * m
            for k, m in zip(reuse, new, strict=True)
        ]
        input_ids = torch.tensor(rows, dtype=torch.long, device=self.device)
        mask = torch.tensor(masks, dtype=torch.long, device=self.device)
        position = (mask.cumsum(-1) - 1).clamp(min=0)[:, c:]
        layer_cls = _buffered_layer_class()
        capacity = c + w + max_new
        if c:  # the cached prefixes, right-aligned in the first c columns
            first = next(e for e, k in found if k)
            _, _, heads, _, dim = first.kv.shape
            kv = first.kv.new_zeros((n_layers, 2, len(ids), heads, capacity, dim))
            for u, (entry, k) in enumerate(found):
                if k:
                    kv[:, :, u, :, c - k : c] = entry.kv[:, :, :, :k]
            layers = [layer_cls.filled(kv[i, 0], kv[i, 1], c) for i in range(n_layers)]
        else:
            layers = [layer_cls(capacity) for _ in range(n_layers)]
        from transformers import DynamicCache

        cache = DynamicCache()
        cache.layers = layers
        cache.layer_class_to_replicate = None
        out = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position,
            use_cache=True,
            **{self._cache_arg: cache},
            **self._last_logits_only,
        )
        cache = _cache_of(out)
        self.stats.prompt_tokens += sum(len(x) for x in ids)
        self.stats.cached_tokens += sum(reuse)
        if store is not None and callable(getattr(cache, "batch_select_indices", None)):
            todo = [
                u
                for u, (x, (entry, k)) in enumerate(zip(ids, found, strict=True))
                if not store.covers(x, entry, k)
            ]
            if todo:
                every = torch.stack(
                    [torch.stack((la.keys, la.values)) for la in cache.layers]
                )  # (layers, 2, rows, heads, c + w, dim)
                for u in todo:
                    k, m = reuse[u], new[u]
                    cols = list(range(c - k, c)) + list(range(c + w - m, c + w))
                    at = torch.tensor(cols, device=self.device)
                    store.insert(ids[u], every[:, :, u].index_select(3, at))
        return out, mask, position, cache, ids

    def _decode(
        self, texts: list[str], greedy: bool, temperature: float, top_p: float, max_new: int
    ) -> list[_Row]:
        """Sample with a KV cache, dropping each row from the batch once it has stopped.

        Rows with the same prompt (the ``n`` samples of one observation) share one prefill: the
        prompt is encoded once and its cache copied to each of its rows. A prompt that starts
        like a cached one encodes only its remaining tokens (:class:`PrefixCache`).
        """
        import torch

        unique = list(dict.fromkeys(texts))
        rows = len(texts)
        slot = {text: i for i, text in enumerate(unique)}
        stop_ids = torch.tensor(sorted(self._stop_token_ids()), device=self.device)
        tokens = torch.zeros((rows, max_new), dtype=torch.long, device=self.device)
        lengths = torch.zeros(rows, dtype=torch.long, device=self.device)
        logprob = torch.zeros(rows, dtype=torch.float64, device=self.device)
        entropy = torch.zeros(rows, dtype=torch.float64, device=self.device)
        behavior = torch.zeros((rows, max_new), dtype=torch.float64, device=self.device)
        alive = torch.arange(rows, device=self.device)  # batch row -> original row
        in_order = True  # whether ``alive`` is ascending (rows draw their samples in row order)
        with torch.inference_mode():
            out, mask, position, cache, prompt_ids = self._prefill(unique, max_new)
            logits = out.logits[:, -1, :].float()
            if not callable(getattr(cache, "batch_select_indices", None)):
                self.compact = False  # a cache this loop cannot shrink: use generate from now on
                return self._generate(texts, greedy, temperature, top_p, max_new)
            buffered = _all_buffered(cache)
            store = self._prefix_store() if buffered and prompt_ids is not None else None
            row_ids = [prompt_ids[slot[t]] for t in texts] if store is not None else []
            position = position[:, -1:] + 1
            if len(unique) < rows:  # copy each prompt's cache to its rows
                expand = torch.tensor([slot[t] for t in texts], device=self.device)
                cache.batch_select_indices(expand)
                logits, mask, position = logits[expand], mask[expand], position[expand]
            for t in range(max_new):
                logp = torch.log_softmax(logits, dim=-1)  # unprocessed, temperature 1
                if greedy:
                    nxt = logits.argmax(-1)
                else:
                    probs = _nucleus(logits / temperature, top_p)
                    if in_order:
                        nxt = torch.multinomial(probs, 1).squeeze(-1)
                    else:  # draw in row order, as if no row had moved
                        order = torch.argsort(alive)
                        nxt = torch.empty_like(alive)
                        nxt[order] = torch.multinomial(probs[order], 1).squeeze(-1)
                    behavior[alive, t] = probs.gather(-1, nxt[:, None]).squeeze(-1).double().log()
                tokens[alive, t] = nxt
                lengths[alive] += 1
                logprob[alive] += logp.gather(-1, nxt[:, None]).squeeze(-1).double()
                entropy[alive] += (-(logp.exp() * logp).sum(-1)).double()
                running = ~torch.isin(nxt, stop_ids)
                if t == max_new - 1 or not bool(running.any()):
                    if store is not None:
                        self._harvest(
                            store, cache, mask, range(len(alive)), alive, row_ids, tokens, t
                        )
                    break
                if not bool(running.all()):  # drop the rows that stopped
                    stopped = (~running).nonzero().squeeze(-1)
                    if store is not None:
                        self._harvest(
                            store, cache, mask, stopped.tolist(), alive, row_ids, tokens, t
                        )
                    if buffered:  # move the last running rows into the gaps (copies few rows)
                        left = len(alive) - len(stopped)
                        holes = stopped[stopped < left]
                        tails = torch.arange(left, len(alive), device=self.device)
                        tails = tails[running[left:]]
                        for layer in cache.layers:
                            layer.move_rows(holes, tails, left)
                        src = torch.arange(left, device=self.device)
                        src[holes] = tails
                        in_order = in_order and len(holes) == 0
                    else:
                        src = running.nonzero().squeeze(-1)
                        cache.batch_select_indices(src)
                    alive, nxt, mask, position = alive[src], nxt[src], mask[src], position[src]
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
                out = self.model(
                    input_ids=nxt[:, None],
                    attention_mask=mask,
                    position_ids=position,
                    use_cache=True,
                    **{self._cache_arg: cache},
                )
                cache, logits = _cache_of(out), out.logits[:, -1, :].float()
                position = position + 1
        result = []
        for r in range(rows):
            k = int(lengths[r])
            text = self.tokenizer.decode(tokens[r, :k], skip_special_tokens=True)
            mean_ent = float(entropy[r]) / max(1, k)
            ids = tuple(int(i) for i in tokens[r, :k].tolist())
            blp = tuple(float(x) for x in behavior[r, :k].tolist())
            result.append(
                (text.split("\n", 1)[0].strip(), float(logprob[r]), mean_ent, k, ids, blp)
            )
        return result

    def _harvest(
        self,
        store: PrefixCache,
        cache: Any,
        mask: Any,
        batch_rows: Any,
        alive: Any,
        row_ids: list[list[int]],
        tokens: Any,
        fed: int,
    ) -> None:
        """Cache what the decode loop computed for finished rows: the prompt and the first
        ``fed`` generated tokens (the step without its newline), the start of the transcript
        that a search's next round sends when it extends this step."""
        batch_rows = list(batch_rows)
        if not batch_rows:
            return
        origs = alive[batch_rows].tolist()  # one device sync for all rows
        written = tokens[origs, :fed].tolist()
        for b, orig, gen in zip(batch_rows, origs, written, strict=True):
            ids = row_ids[orig] + gen
            if store.holds(ids):
                continue
            cols = mask[b].nonzero().squeeze(-1)
            if len(cols) != len(ids):  # not the layout this loop builds: cache nothing
                continue
            kv = [
                (la.keys[b].index_select(1, cols), la.values[b].index_select(1, cols))
                for la in cache.layers
            ]
            store.insert(ids, _stack_kv(kv))

    def _generate(
        self, texts: list[str], greedy: bool, temperature: float, top_p: float, max_new: int
    ) -> list[_Row]:
        import torch
        from transformers import GenerationConfig

        tok = self.tokenizer
        enc = self._encode(texts, max_new)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": self._eos_ids,
            "return_dict_in_generate": True,
            "output_logits": True,
            "use_cache": True,
        }
        if greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p))
            kwargs["top_k"] = 0  # no top-k cut (transformers' default is 50)
        if self._newline_id is None:
            kwargs.update(stop_strings=["\n"], tokenizer=tok)
        tokenizer_kw = {k: kwargs.pop(k) for k in ("tokenizer",) if k in kwargs}
        config = GenerationConfig(**kwargs)
        # A clean config: a checkpoint's saved settings (repetition_penalty, min_p, ...) must not
        # change what is sampled, only temperature and top_p (as in _decode). generate() fills
        # what a passed config leaves at its default from the model's own config, so that one is
        # swapped for a blank one during the call.
        saved = self.model.generation_config
        self.model.generation_config = GenerationConfig()
        try:
            with torch.inference_mode():
                gen = self.model.generate(**enc, generation_config=config, **tokenizer_kw)
        finally:
            self.model.generation_config = saved
        new = gen.sequences[:, enc["input_ids"].shape[1] :]  # (rows, T)
        if new.shape[1] == 0:
            return [("", 0.0, 0.0, 0, (), ()) for _ in texts]
        logits = torch.stack(gen.logits, dim=1).float()  # (rows, T, V), unprocessed
        logp = torch.log_softmax(logits, dim=-1)
        chosen = logp.gather(-1, new.unsqueeze(-1)).squeeze(-1)  # (rows, T)
        entropy = -(logp.exp() * logp).sum(-1)  # (rows, T)
        stop = torch.zeros_like(new, dtype=torch.bool)
        for idx in self._stop_token_ids():
            stop |= new == idx
        # keep tokens up to and including the first stop token
        before = torch.cumsum(stop.int(), dim=1) - stop.int()
        keep = before == 0
        lengths = keep.sum(1)
        lp = (chosen * keep).sum(1)
        ent = (entropy * keep).sum(1) / lengths.clamp(min=1)
        if greedy:
            behavior = torch.zeros_like(chosen)
        else:  # the distribution generate sampled from, recomputed from the raw logits
            behavior = _sampling_logprobs(logits, temperature, top_p)
            behavior = behavior.gather(-1, new.unsqueeze(-1)).squeeze(-1)
        out = []
        for r in range(new.shape[0]):
            k = int(lengths[r])
            text = tok.decode(new[r, :k], skip_special_tokens=True)
            text = text.split("\n", 1)[0].strip()
            ids = tuple(int(i) for i in new[r, :k].tolist())
            blp = tuple(float(x) for x in behavior[r, :k].tolist())
            out.append((text, float(lp[r]), float(ent[r]), k, ids, blp))
        return out


_Row = tuple[str, float, float, int, tuple[int, ...], tuple[float, ...]]
"""One decoded row: text, log-prob, mean entropy, token count, token ids, behaviour log-probs."""


def _sampling_logprobs(logits: Any, temperature: float, top_p: float) -> Any:
    """Log-probabilities of the distribution sampled at ``temperature``/``top_p`` (``-inf`` off
    the nucleus); ``temperature == 0`` is taken as 1 (use it for scoring, not greedy)."""
    import torch

    if temperature == 1.0 and top_p >= 1.0:
        return torch.log_softmax(logits, dim=-1)
    scaled = logits / (temperature or 1.0)
    if top_p >= 1.0:
        return torch.log_softmax(scaled, dim=-1)
    return _nucleus(scaled, top_p).log()


@functools.lru_cache(maxsize=1)
def _buffered_layer_class() -> type:
    """A transformers ``DynamicLayer`` whose keys and values live in preallocated buffers.

    ``DynamicLayer.update`` concatenates the whole cache with each new token (a copy that grows
    with the context); this layer writes the new token in place and grows its buffers only when
    full. It is built on first use (transformers is imported lazily).
    """
    from transformers.cache_utils import DynamicLayer

    class BufferedLayer(DynamicLayer):
        """Keys/values ``(batch, heads, length, head_dim)`` in a buffer of ``capacity`` columns."""

        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = max(1, int(capacity))
            self.length = 0
            self._k: Any = None
            self._v: Any = None

        @classmethod
        def filled(cls, keys: Any, values: Any, length: int) -> BufferedLayer:
            """A layer over the buffers ``keys``/``values`` whose first ``length`` columns hold
            the cached states."""
            layer = cls(keys.shape[-2])
            layer._k, layer._v, layer.length = keys, values, int(length)
            layer.device, layer.is_initialized = keys.device, True
            layer._views()
            return layer

        def _views(self) -> None:
            self.keys = self._k[:, :, : self.length]
            self.values = self._v[:, :, : self.length]

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            b, h, _, _ = key_states.shape
            self.device = key_states.device
            self._k = key_states.new_zeros((b, h, self.capacity, key_states.shape[-1]))
            self._v = value_states.new_zeros((b, h, self.capacity, value_states.shape[-1]))
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self._k.shape[-2]:
                self._k, self._v = self._grown(self._k, end), self._grown(self._v, end)
            self._k[:, :, self.length : end] = key_states
            self._v[:, :, self.length : end] = value_states
            self.length = end
            self._views()
            return self.keys, self.values

        def _grown(self, buf: Any, need: int) -> Any:
            shape = list(buf.shape)
            shape[-2] = max(need, 2 * shape[-2])
            out = buf.new_zeros(shape)
            out[:, :, : self.length] = buf[:, :, : self.length]
            return out

        def get_seq_length(self) -> int:
            return self.length if self.is_initialized else 0

        def batch_select_indices(self, indices: Any) -> None:
            if self.is_initialized:
                self._k, self._v = self._k[indices], self._v[indices]
                self._views()

        def move_rows(self, holes: Any, tails: Any, rows: int) -> None:
            """Copy rows ``tails`` into rows ``holes``, then keep the first ``rows`` rows."""
            if self.is_initialized:
                if len(holes):
                    n = self.length
                    self._k[holes, :, :n] = self._k[tails, :, :n]
                    self._v[holes, :, :n] = self._v[tails, :, :n]
                self._k, self._v = self._k[:rows], self._v[:rows]
                self._views()

        def reorder_cache(self, beam_idx: Any) -> None:
            self.batch_select_indices(beam_idx.to(self.device))

        def batch_repeat_interleave(self, repeats: int) -> None:
            if self.is_initialized:
                self._k = self._k.repeat_interleave(repeats, dim=0)
                self._v = self._v.repeat_interleave(repeats, dim=0)
                self._views()

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove > 0:
                raise ValueError(f"crop({tokens_to_remove}): give a negative number of tokens")
            if self.is_initialized:
                self.length = max(0, self.length + tokens_to_remove)
                self._views()

        def reset(self) -> None:
            self.length = 0
            self._k = self._v = None
            super().reset()

    return BufferedLayer


def _all_buffered(cache: Any) -> bool:
    """Whether every layer of ``cache`` is the decode loop's buffered layer."""
    layers = getattr(cache, "layers", None)
    cls = _buffered_layer_class()
    return bool(layers) and all(isinstance(layer, cls) for layer in layers)


def _stack_kv(pairs: list[tuple[Any, Any]]) -> Any:
    """Per-layer ``(keys, values)`` of one row -> one ``(layers, 2, heads, len, dim)`` tensor."""
    import torch

    return torch.stack([torch.stack(pair) for pair in pairs])


def _cache_of(out: Any) -> Any:
    """The KV cache of a model output (``cache`` or, before transformers 5.2x, ``past_key_values``)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _nucleus(logits: Any, top_p: float) -> Any:
    """Probabilities of the smallest set of tokens whose mass reaches ``top_p`` (renormalised)."""
    import torch

    probs = torch.softmax(logits, dim=-1)
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    drop = sorted_p.cumsum(-1) - sorted_p >= top_p  # the top token is always kept
    sorted_p = sorted_p.masked_fill(drop, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_p)


def _merge(props: list[Proposal]) -> list[Proposal]:
    merged: dict[str, Proposal] = {}
    for p in props:
        if p.text in merged:
            q = merged[p.text]
            merged[p.text] = replace(q, count=q.count + p.count)
        else:
            merged[p.text] = p
    return list(merged.values())
