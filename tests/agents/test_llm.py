"""LLMPolicy: save/load round trip, batched proposals, greedy act, seeds and counters."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from thinkgym.agents.base import Agent, Policy  # noqa: E402
from thinkgym.agents.llm import LLMPolicy  # noqa: E402
from thinkgym.models import build_char_tokenizer, build_tiny_model  # noqa: E402

OBS = ["Numbers: 4 9 10 13 | Target: 24", "Evaluate: (3 + 4) * 5\n= 7 * 5", "Solve for x: 3x = 9"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.set_num_threads(1)
    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=32, layers=2, heads=2, max_positions=128)
    path = tmp_path_factory.mktemp("policy")
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path, model, tok


@pytest.fixture(scope="module")
def policy(saved):
    return LLMPolicy.from_pretrained(saved[0], device="cpu")


def test_round_trip_through_save_pretrained(saved, policy) -> None:
    path, model, tok = saved
    assert (path / "model.safetensors").is_file()
    assert policy.tokenizer("ab\n12")["input_ids"] == tok("ab\n12")["input_ids"]
    ids = torch.tensor([tok("Evaluate: 1 + 2\n")["input_ids"]])
    with torch.no_grad():
        a = model(ids).logits
        b = policy.model(ids).logits
    torch.testing.assert_close(a, b)
    assert isinstance(policy, Agent) and isinstance(policy, Policy)


@pytest.mark.parametrize("n", [1, 8, 32])
def test_propose_n_per_observation(policy, n) -> None:
    props = policy.propose(OBS, n, seed=0, max_new_tokens=24)
    assert len(props) == len(OBS)
    for plist in props:
        assert len(plist) == n
        for p in plist:
            assert "\n" not in p.text and p.text == p.text.strip()
            assert math.isfinite(p.logprob) and p.logprob <= 0
            assert math.isfinite(p.entropy) and p.entropy >= 0
            assert 1 <= p.tokens <= 24


def test_merge_duplicates_and_greedy(policy) -> None:
    greedy = policy.propose(OBS[:2], 5, temperature=0, max_new_tokens=16)
    assert all(len({p.text for p in pl}) == 1 and len(pl) == 5 for pl in greedy)
    merged = policy.propose(OBS[:2], 5, temperature=0, max_new_tokens=16, merge_duplicates=True)
    assert [len(pl) for pl in merged] == [1, 1] and merged[0][0].count == 5
    assert merged[0][0].logprob == pytest.approx(greedy[0][0].logprob, abs=1e-4)
    sampled = policy.propose(OBS[:1], 16, seed=1, merge_duplicates=True, max_new_tokens=4)
    assert sum(p.count for p in sampled[0]) == 16
    assert policy.act(OBS[1], {}) == greedy[1][0].text


def test_seed_makes_sampling_reproducible(policy) -> None:
    a = policy.propose(OBS, 4, seed=7, max_new_tokens=12)
    b = policy.propose(OBS, 4, seed=7, max_new_tokens=12)
    c = policy.propose(OBS, 4, seed=8, max_new_tokens=12)
    assert a == b and a != c


def test_logprob_is_that_of_the_unprocessed_distribution(policy) -> None:
    (p,) = policy.propose(OBS[:1], 1, temperature=0, max_new_tokens=8)[0][:1]
    tok = policy.tokenizer
    prompt = tok(OBS[0] + "\n")["input_ids"]
    gen = tok(p.text, add_special_tokens=False)["input_ids"]
    stop = [tok.convert_tokens_to_ids("\n")] if p.tokens > len(gen) else []
    ids = torch.tensor([prompt + gen + stop])
    with torch.no_grad():
        logp = torch.log_softmax(policy.model(ids).logits.float(), -1)[0]
    target = ids[0, len(prompt) :]
    ref = logp[len(prompt) - 1 : -1].gather(-1, target[:, None]).sum()
    assert p.logprob == pytest.approx(float(ref), abs=1e-3)


def test_chunking_and_stats(saved) -> None:
    pol = LLMPolicy.from_pretrained(saved[0], device="cpu", max_batch_rows=5)
    props = pol.propose(OBS, 4, seed=0, max_new_tokens=6)
    assert [len(p) for p in props] == [4, 4, 4]
    assert pol.stats.calls == 1 and pol.stats.sequences == 12 and pol.stats.tokens > 0


def test_bad_arguments(policy) -> None:
    with pytest.raises(ValueError, match="n=0"):
        policy.propose(OBS, 0)
    with pytest.raises(ValueError, match="temperature"):
        policy.propose(OBS, 1, temperature=-1)
    with pytest.raises(TypeError, match="sequence"):
        policy.propose("Evaluate: 1 + 1", 1)
    with pytest.raises(ValueError, match="dtype"):
        LLMPolicy(policy.model, policy.tokenizer, dtype="float99")


def test_default_names_the_build_command(monkeypatch, tmp_path) -> None:
    import thinkgym.agents.llm as llm

    monkeypatch.setattr(llm, "default_policy_dir", lambda: tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="thinkgym train sft --recipe default"):
        LLMPolicy.default()


def _same(pa, pb) -> None:
    for x, y in zip(pa, pb, strict=True):
        assert [p.text for p in x] == [p.text for p in y]
        assert [p.tokens for p in x] == [p.tokens for p in y]
        for p, q in zip(x, y, strict=True):
            assert p.logprob == pytest.approx(q.logprob, abs=1e-3)
            assert p.entropy == pytest.approx(q.entropy, abs=1e-3)


def test_compact_decoding_matches_generate(saved) -> None:
    """The own decode loop (rows leave the batch when they stop, one prefill per prompt) gives
    the same greedy steps, log-probs and entropies as transformers' generate."""
    a = LLMPolicy.from_pretrained(saved[0], device="cpu")
    b = LLMPolicy.from_pretrained(saved[0], device="cpu", compact=False)
    assert a.compact and not b.compact
    _same(
        a.propose(OBS, 2, temperature=0, max_new_tokens=12),
        b.propose(OBS, 2, temperature=0, max_new_tokens=12),
    )
    # nucleus sampling with a vanishing top_p keeps only the top token: greedy again
    _same(
        a.propose(OBS, 1, top_p=1e-9, max_new_tokens=12, seed=1),
        b.propose(OBS, 1, temperature=0, max_new_tokens=12),
    )


def test_compact_decoding_with_rows_that_stop_at_different_steps() -> None:
    """The shipped policy writes steps of different lengths: rows leave the batch at different
    times, and prompts of different lengths share a chunk (left padding)."""
    try:
        a = LLMPolicy.default(device="cpu", max_batch_rows=3)
    except FileNotFoundError:
        pytest.skip("no shipped policy")
    b = LLMPolicy.default(device="cpu", compact=False)
    obs = OBS + [
        "Evaluate: 12 * 3 - 4 * (5 + 6)",
        "Numbers: 1 2 3 4 | Target: 24\n4 * 3 = 12 (left: 1 2 12)",
    ]
    pa, pb = a.propose(obs, 1, temperature=0), b.propose(obs, 1, temperature=0)
    _same(pa, pb)
    assert len({p[0].tokens for p in pa}) > 1  # the rows did stop at different steps
    assert all(p[0].tokens < 48 for p in pa)  # ... before the token limit


def test_compact_decoding_falls_back_to_generate_without_a_shrinkable_cache(saved, monkeypatch):
    import thinkgym.agents.llm as llm

    a = LLMPolicy.from_pretrained(saved[0], device="cpu")
    b = LLMPolicy.from_pretrained(saved[0], device="cpu", compact=False)
    monkeypatch.setattr(llm, "_cache_of", lambda out: object())  # a cache with no batch_select
    _same(
        a.propose(OBS, 1, temperature=0, max_new_tokens=8),
        b.propose(OBS, 1, temperature=0, max_new_tokens=8),
    )
    assert a.compact is False


def test_saved_generation_settings_do_not_change_what_is_sampled(saved) -> None:
    """A checkpoint's generation_config (repetition_penalty, ...) is ignored by both paths."""
    a = LLMPolicy.from_pretrained(saved[0], device="cpu")
    b = LLMPolicy.from_pretrained(saved[0], device="cpu", compact=False)
    for p in (a, b):
        p.model.generation_config.repetition_penalty = 3.0
    _same(
        a.propose(OBS, 1, temperature=0, max_new_tokens=12),
        b.propose(OBS, 1, temperature=0, max_new_tokens=12),
    )


def test_planners_drive_an_llm_policy_through_the_contract(policy) -> None:
    """Planners call propose with explicit keywords; self-evaluation scores with ``logprobs``."""
    from thinkgym.search import BeamSearch, SelfEvalGuidance, resolve_env

    env, _ = resolve_env("Arithmetic")
    guide = SelfEvalGuidance(policy)
    r = BeamSearch(
        policy, beam_size=2, width=2, guidance=guide, budget=8, max_step_tokens=8, seed=0
    ).plan(env, seed=0)
    assert 0 < r.cost.policy_calls <= 8 and r.cost.tokens <= 8 * r.cost.policy_calls
    assert r.cost.reward_model_calls == r.cost.guidance_calls  # one scoring pass per candidate
    scored = [n.score for n in r.tree.nodes[1:] if n.score is not None]
    assert all(0.0 < s < 1.0 for s in scored)
    # the score is p(" correct") / (p(" correct") + p(" wrong")) from teacher-forced log-probs
    prompt = "Evaluate: 1 + 2\nVerdict:"
    yes, no = (
        float(t.sum())
        for t in policy.logprobs([prompt] * 2, [" correct", " wrong"], template=False)
    )
    want = 1.0 / (1.0 + math.exp(no - yes))
    from thinkgym.search.context import Candidate

    env.reset(options={"problem": "1 + 2"})
    state = env.get_state()
    got = guide.score([Candidate(env, state, state, "")])[0]
    assert math.isclose(got, want, rel_tol=1e-5), (got, want)


def test_self_eval_needs_a_scoring_policy() -> None:
    from thinkgym.agents.base import RandomAgent
    from thinkgym.search import SelfEvalGuidance, resolve_env

    with pytest.raises(TypeError, match="logprobs"):
        SelfEvalGuidance(RandomAgent(resolve_env("Game24")[0]))
