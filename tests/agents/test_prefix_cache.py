"""The decode loop's prefix cache: token-identical results with it on and off, its bounds, and
when it must not be used (changed weights, training mode)."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from thinkgym.agents.llm import LLMPolicy, PrefixCache  # noqa: E402
from thinkgym.models import build_char_tokenizer, build_tiny_model  # noqa: E402

OBS = [
    "Numbers: 4 9 10 13 | Target: 24",
    "Evaluate: (3 + 4) * 5\n= 7 * 5",
    "Solve for x: 3x = 9",
    "Numbers: 1 2 3 4 | Target: 24\n4 * 3 = 12 (left: 1 2 12)",
]


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=32, layers=2, heads=2, max_positions=256)
    return model, tok


def _pair(model, tok, **kwargs):
    on = LLMPolicy(model, tok, device="cpu", **kwargs)
    kwargs["prefix_cache_mb"] = 0
    off = LLMPolicy(copy.deepcopy(model), tok, device="cpu", **kwargs)
    assert on.prefix_cache is not None and off.prefix_cache is None
    return on, off


def _same_tokens(pa, pb) -> int:
    """Assert two propose() results are token for token the same; return the proposals."""
    count = 0
    for x, y in zip(pa, pb, strict=True):
        assert len(x) == len(y)
        for p, q in zip(x, y, strict=True):
            assert p.token_ids == q.token_ids and p.text == q.text
            assert p.behavior_logprobs == pytest.approx(q.behavior_logprobs, abs=1e-4)
            assert p.logprob == pytest.approx(q.logprob, abs=1e-4)
            assert p.entropy == pytest.approx(q.entropy, abs=1e-4)
            count += 1
    return count


def _search_rounds(on, off, obs, rounds, n, **kw):
    """Propose for ``obs``, then for each transcript extended by its first proposal (as a
    planner expands children), ``rounds`` times; both policies see the same observations."""
    total = 0
    for r in range(rounds):
        for greedy in (True, False):
            args = {"temperature": 0} if greedy else {"seed": 10 + r, "temperature": 1.0}
            pa = on.propose(obs, n, **args, **kw)
            pb = off.propose(obs, n, **args, **kw)
            total += _same_tokens(pa, pb)
        obs = [o + "\n" + pl[0].text for o, pl in zip(obs, pa, strict=True)] + obs[:2]
    return total


def test_tiny_model_greedy_and_sampling_are_token_identical(tiny) -> None:
    on, off = _pair(*tiny)
    compared = _search_rounds(on, off, OBS, rounds=4, n=3, max_new_tokens=16)
    assert compared > 100
    assert on.stats.tokens == off.stats.tokens and on.stats.prompt_tokens == off.stats.prompt_tokens
    # the later rounds start with earlier prompts and steps: most prompt tokens are reused
    assert on.stats.prefix_hit_rate > 0.5, on.stats.as_dict()
    assert off.stats.cached_tokens == 0 and off.stats.prefix_hit_rate == 0.0
    assert on.stats.as_dict()["prefix_hit_rate"] == on.stats.prefix_hit_rate


def test_top_p_sampling_and_small_chunks_are_token_identical(tiny) -> None:
    """Nucleus sampling, prompts split over 2-row chunks, rows that stop at different steps
    (moved inside the batch) all draw the same tokens with and without the cache."""
    on, off = _pair(*tiny, max_batch_rows=2)
    _search_rounds(on, off, OBS, rounds=3, n=2, max_new_tokens=12, top_p=0.9)
    assert on.stats.cached_tokens > 0


def test_shipped_policy_is_token_identical_over_search_rounds() -> None:
    """The shipped policy, on search-like transcripts whose steps it writes itself."""
    try:
        on = LLMPolicy.default(device="cpu")
    except FileNotFoundError:
        pytest.skip("no shipped policy in thinkgym/data/policy")
    off = LLMPolicy.default(device="cpu", prefix_cache_mb=0)
    compared = _search_rounds(on, off, OBS, rounds=3, n=4)
    assert compared > 100
    # the rows stopped at different steps (moved inside the batch) and before the limit
    assert on.stats.prefix_hit_rate > 0.6, on.stats.as_dict()


def test_shipped_policy_planners_give_the_same_trees() -> None:
    """Beam search and MCTS (several rounds per problem, siblings sharing prefixes) choose the
    same steps and build the same trees with the cache on and off."""
    try:
        on = LLMPolicy.default(device="cpu")
    except FileNotFoundError:
        pytest.skip("no shipped policy in thinkgym/data/policy")
    off = LLMPolicy.default(device="cpu", prefix_cache_mb=0)
    from thinkgym.search import MCTS, BeamSearch, resolve_env

    env, _ = resolve_env("Game24")
    for make in (
        lambda p: BeamSearch(p, beam_size=2, width=3, budget=24, seed=0),
        lambda p: MCTS(p, simulations=8, width=3, seed=0),
    ):
        ra = make(on).plan_many(env, seeds=[1, 2, 3])
        rb = make(off).plan_many(env, seeds=[1, 2, 3])
        for a, b in zip(ra, rb, strict=True):
            assert a.steps == b.steps and a.answer == b.answer
            assert [n.step for n in a.tree.nodes] == [n.step for n in b.tree.nodes]
            assert [n.visits for n in a.tree.nodes] == [n.visits for n in b.tree.nodes]
    assert on.stats.cached_tokens > 0


def test_changed_weights_empty_the_cache(tiny) -> None:
    model, tok = tiny
    on, off = _pair(copy.deepcopy(model), tok)
    on.propose(OBS, 2, seed=0, max_new_tokens=8)
    before = on.stats.cached_tokens
    on.propose(OBS, 2, seed=0, max_new_tokens=8)
    assert on.stats.cached_tokens > before  # the same prompts again: served by the cache
    with torch.no_grad():  # an optimizer step changes the weights in place
        for p in on.model.parameters():
            p.mul_(-1.5)
        off.model.load_state_dict(on.model.state_dict())
    before = on.stats.cached_tokens
    _same_tokens(
        on.propose(OBS, 2, seed=3, max_new_tokens=8), off.propose(OBS, 2, seed=3, max_new_tokens=8)
    )
    assert on.stats.cached_tokens == before  # nothing stale was reused
    on.model.train()  # training mode (dropout): the cache is left alone
    assert on._prefix_store() is None
    on.model.eval()


def test_memory_bound_and_eviction(tiny) -> None:
    model, tok = tiny
    on, off = _pair(model, tok, prefix_cache_mb=0.05)  # ~50 KB: a handful of prompts
    _search_rounds(on, off, OBS, rounds=3, n=2, max_new_tokens=10)
    store = on.prefix_cache
    assert 0 < store.bytes <= store.max_bytes and store.evictions > 0


def test_bad_size_is_refused(tiny) -> None:
    model, tok = tiny
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="prefix_cache_mb"):
            LLMPolicy(model, tok, device="cpu", prefix_cache_mb=bad)
    with pytest.raises(ValueError, match="max_bytes"):
        PrefixCache(-5)


def _kv(length: int, value: float = 0.0):
    return torch.full((1, 2, 1, length, 2), value)


def test_prefix_cache_finds_the_longest_shared_prefix() -> None:
    cache = PrefixCache(10_000)
    assert cache.lookup([1, 2, 3], 3) == (None, 0)
    assert cache.insert([1, 2, 3, 4], _kv(4, 1.0))
    assert cache.insert([1, 2, 7], _kv(3, 2.0))
    entry, k = cache.lookup([1, 2, 3, 9, 9], 5)
    assert k == 3 and entry.ids == (1, 2, 3, 4)
    entry, k = cache.lookup([1, 2, 7, 8], 4)
    assert k == 3 and entry.ids == (1, 2, 7)
    entry, k = cache.lookup([1, 2, 3, 4], 2)  # limited to 2 tokens
    assert k == 2
    assert cache.lookup([5, 1], 2) == (None, 0)
    assert cache.holds([1, 2, 3]) and cache.holds([1, 2, 7]) and not cache.holds([1, 2, 7, 8])
    assert not cache.insert([1, 2, 3], _kv(3))  # already held by (1, 2, 3, 4)
    assert cache.lookups == 5 and cache.hits == 3


def test_prefix_cache_drops_prompts_a_new_one_extends() -> None:
    cache = PrefixCache(10_000)
    cache.insert([1, 2], _kv(2))
    cache.insert([1, 2, 3, 4], _kv(4))  # holds [1, 2]: the shorter one is dropped
    assert len(cache) == 1 and cache.tokens == 4
    assert cache.bytes == _kv(4).numel() * 4


def test_prefix_cache_evicts_least_recently_used_and_prunes_the_trie() -> None:
    per = _kv(3).numel() * 4  # bytes of a 3-token prompt
    cache = PrefixCache(2 * per)
    cache.insert([1, 2, 3], _kv(3))
    cache.insert([1, 5, 6], _kv(3))
    cache.lookup([1, 2, 3], 3)  # [1, 2, 3] is now the most recently used
    cache.insert([7, 8, 9], _kv(3))  # over the bound: [1, 5, 6] goes
    assert cache.evictions == 1 and cache.bytes <= 2 * per and len(cache) == 2
    assert not cache.holds([1, 5]) and cache.holds([1, 2, 3]) and cache.holds([7, 8, 9])
    entry, k = cache.lookup([1, 5, 6], 3)
    assert k == 1 and entry.ids == (1, 2, 3)  # the shared first token still serves
    cache.insert([4, 4, 4, 4, 4, 4, 4], _kv(7))  # larger than the bound: not stored
    assert not cache.holds([4]) and len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0 and cache.lookup([1, 2, 3], 3) == (None, 0)


def test_bench_throughput_line_gives_the_hit_rate(tiny) -> None:
    from thinkgym.bench.run import _prefix_cache_note

    on, _ = _pair(*tiny)
    assert _prefix_cache_note(on.stats) == ""  # nothing encoded yet
    on.propose(OBS, 2, seed=0, max_new_tokens=8)
    on.propose(OBS, 2, seed=1, max_new_tokens=8)
    note = _prefix_cache_note(on.stats)
    rate = f"{on.stats.prefix_hit_rate:.0%}"
    assert note.startswith(f"; prefix cache hit rate {rate} (") and rate != "0%"
    assert f"of {on.stats.prompt_tokens:,} prompt tokens" in note
