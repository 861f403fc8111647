"""PromptTemplate: plain transcripts and chat templates with few-shot examples."""

from __future__ import annotations

import pytest

from thinkgym.agents.prompting import ANALYSIS_HINT, DECOMPOSITION_HINT, PromptTemplate

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture
def chat_tokenizer():
    pytest.importorskip("transformers")
    from thinkgym.models import build_char_tokenizer

    tok = build_char_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    return tok


def test_plain_is_transcript_and_newline() -> None:
    t = PromptTemplate.plain()
    assert t.render("Numbers: 1 2 3 4 | Target: 24\n1 + 2 = 3") == (
        "Numbers: 1 2 3 4 | Target: 24\n1 + 2 = 3\n"
    )
    assert t.adds_special_tokens


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="kind='fancy'"):
        PromptTemplate("fancy")


def test_chat_uses_the_tokenizer_template(chat_tokenizer) -> None:
    t = PromptTemplate.chat(analysis=True, decomposition=True)
    text = t.render("Evaluate: 3 + 4", chat_tokenizer)
    assert text.startswith("<|system|>")
    assert ANALYSIS_HINT in text and DECOMPOSITION_HINT in text
    assert "<|user|>Evaluate: 3 + 4\n" in text
    assert text.endswith("<|assistant|>")
    assert not t.adds_special_tokens


def test_chat_needs_a_chat_template() -> None:
    pytest.importorskip("transformers")
    from thinkgym.models import build_char_tokenizer

    with pytest.raises(ValueError, match="chat_template"):
        PromptTemplate.chat().render("x", build_char_tokenizer())


def test_few_shot_examples_come_from_the_solver(chat_tokenizer) -> None:
    t = PromptTemplate.few_shot("thinkgym/Game24-v0", k=2, seed=3)
    assert len(t.examples) == 2
    for ex in t.examples:
        lines = ex.split("\n")
        assert lines[0].startswith("Numbers:") and lines[-1].startswith("Answer:")
    msgs = t.messages("Numbers: 4 9 10 13 | Target: 24")
    assert msgs[0]["role"] == "system" and msgs[-1]["role"] == "user"
    assert [m["role"] for m in msgs[1:5]] == ["user", "assistant", "user", "assistant"]
    assert msgs[2]["content"] == t.examples[0].split("\n")[1]
    text = t.render("Numbers: 4 9 10 13 | Target: 24", chat_tokenizer)
    assert t.examples[0].split("\n")[0] in text
    assert PromptTemplate.few_shot("thinkgym/Game24-v0", k=2, seed=3) == t
