"""What RL needs from LLMPolicy: sampled token ids and behaviour log-probs, recomputed by logprobs()."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from thinkgym.agents.llm import LLMPolicy  # noqa: E402

OBS = ["Evaluate: (3 + 4) * 5", "Numbers: 4 9 10 13 | Target: 24", "Solve for x: 3x = 9"]


@pytest.fixture(scope="module")
def policy():
    torch.set_num_threads(1)
    return LLMPolicy.default(device="cpu")


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.7, 1.0), (1.3, 0.9)])
def test_behaviour_logprobs_equal_recomputation(policy, compact, temperature, top_p) -> None:
    policy.compact = compact
    try:
        props = policy.propose(OBS, 4, temperature=temperature, top_p=top_p, seed=3)
    finally:
        policy.compact = True
    flat = [(obs, p) for obs, plist in zip(OBS, props, strict=True) for p in plist]
    assert all(len(p.token_ids) == p.tokens == len(p.behavior_logprobs) for _, p in flat)
    # the tokens decode to the text (plus its newline)
    for _, p in flat:
        assert policy.tokenizer.decode(list(p.token_ids)).split("\n", 1)[0].strip() == p.text
    prompts = [o for o, _ in flat]
    conts = [p.token_ids for _, p in flat]
    behaviour = policy.logprobs(prompts, conts, temperature=temperature, top_p=top_p)
    raw = policy.logprobs(prompts, conts)  # temperature 1: the proposals' own `logprob`
    for (_, p), b, r in zip(flat, behaviour, raw, strict=True):
        torch.testing.assert_close(
            b.double(), torch.tensor(p.behavior_logprobs).double(), atol=2e-4, rtol=1e-4
        )
        assert math.isclose(float(r.sum()), p.logprob, abs_tol=1e-3)
    if temperature != 1.0:  # the tempered distribution really is another one
        assert max(abs(p.behavior_logprob - p.logprob) for _, p in flat) > 1e-2


def test_greedy_behaviour_is_a_point_mass(policy) -> None:
    props = policy.propose(OBS, 2, temperature=0)
    for plist in props:
        assert all(p.behavior_logprobs == (0.0,) * p.tokens for p in plist)
        assert plist[0].token_ids == plist[1].token_ids


def test_logprobs_text_encoding_is_sfts(policy) -> None:
    from thinkgym.learning.sft import encode_pairs
    from thinkgym.learning.traces import Trace

    trace = Trace("thinkgym/Arithmetic-v0", "Evaluate: 2 + 3", ("Answer: 5",))
    ((prompt_ids, target_ids),) = encode_pairs(policy, [trace])
    (lp,) = policy.logprobs(["Evaluate: 2 + 3"], ["Answer: 5\n"])
    assert lp.shape == (len(target_ids),)
    ids = torch.tensor([prompt_ids + target_ids])
    with torch.no_grad():
        logits = policy.model(input_ids=ids).logits[0].float()
    want = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], -1)
    want = want.gather(-1, torch.tensor(target_ids)[:, None]).squeeze(-1)
    torch.testing.assert_close(lp, want, atol=1e-5, rtol=1e-5)


def test_logprobs_grad(policy) -> None:
    (lp,) = policy.logprobs(["Evaluate: 2 + 3"], ["Answer: 5\n"], grad=True)
    lp.sum().backward()
    grads = [p.grad for p in policy.model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    policy.model.zero_grad(set_to_none=True)
    with pytest.raises(ValueError, match="continuations"):
        policy.logprobs(["a", "b"], ["x"])
