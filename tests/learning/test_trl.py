"""thinkgym rewards as TRL reward functions, and a thinkgym env as GRPOTrainer's environment."""

from __future__ import annotations

import json
import os

import pytest

from thinkgym.envs import make
from thinkgym.learning.trl import (
    ThinkgymEnvironment,
    environment_factory,
    reward_function,
    tool_calling_tokenizer,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

PROBLEM = json.dumps({"expression": "5 * 6"})


def _episode_reward(env, steps):
    total = 0.0
    for s in steps:
        _, r, term, trunc, _ = env.step(s)
        total += r
        if term or trunc:
            break
    return total


def test_reward_function_gives_the_env_scores():
    f = reward_function("Arithmetic", difficulty=1)
    env = make("Arithmetic", difficulty=1).unwrapped
    completions, problems, expected = [], [], []
    for seed, mode in [(1, "solve"), (2, "wrong"), (3, "reject"), (4, "none")]:
        env.reset(seed=seed)
        problem = env.get_state().problem
        steps = env.solve(problem)
        if mode == "wrong":
            steps = steps[:-1] + ["Answer: 123456"]
        elif mode == "reject":
            steps = ["1 + 1 = 3"] + steps
        elif mode == "none":
            steps = steps[:1]
        env.reset(seed=seed)
        expected.append(_episode_reward(env, steps))
        completions.append("\n".join(steps) + "\n")
        problems.append(json.dumps(problem))
    got = f(["p"] * 4, completions, problem=problems)
    assert got == pytest.approx(expected)
    assert got[0] == 1.0 and got[1] == 0.0 and got[2] == pytest.approx(1.0 + env.invalid_penalty)
    # conversational completions and seed columns work too; outcome_only drops the penalty
    conv = [[{"role": "assistant", "content": c}] for c in completions]
    assert f(["p"] * 4, conv, seed=[1, 2, 3, 4]) == pytest.approx(expected)
    g = reward_function("Arithmetic", difficulty=1, outcome_only=True)
    assert g(["p"] * 4, completions, problem=problems) == [1.0, 0.0, 1.0, 0.0]


def test_reward_function_with_a_prm_on_mathword():
    class PerStep:
        def process(self, state, step, *args, **kwargs):
            return 0.25

        def outcome(self, state):
            return 1.0 if state.correct else 0.0

    f = reward_function("MathWord", reward=PerStep())
    env = make("MathWord").unwrapped
    env.reset(seed=0)
    problem = env.get_state().problem
    steps = env.solve(problem)
    [score] = f(["p"], ["\n".join(steps)], problem=[json.dumps(problem)])
    assert score == pytest.approx(1.0 + 0.25 * (len(steps) - 1))


def test_environment_class_follows_trl_contract():
    import inspect

    env = environment_factory("Arithmetic", difficulty=0)()
    tools = [
        n
        for n, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
        if n not in ("reset", "get_reward") and not n.startswith("_")
    ]
    assert tools == ["step"]  # the only tool TRL exposes to the model
    text = env.reset(prompt=[{"role": "user", "content": "x"}], problem=PROBLEM, seed=0)
    assert text == "Evaluate: 5 * 6"
    assert env.step("5 * 6 = 31").startswith("Rejected: ")
    assert env.step("Answer: 30") == "Answer recorded; the episode is over."
    assert env.get_reward() == pytest.approx(1.0 + env.env.invalid_penalty)
    assert env.step("Answer: 30").startswith("The episode is over")
    env.reset(seed=5)
    assert env.get_reward() == 0.0 and env.rewards == []
    # a row without problem or seed: the env poses its own (tests/learning/test_trl_env.py)


def test_tool_schema_renders_with_the_char_tokenizer():
    pytest.importorskip("trl")
    from trl.chat_template_utils import supports_tool_calling

    from thinkgym.models import build_char_tokenizer

    tok = tool_calling_tokenizer(build_char_tokenizer())
    assert supports_tool_calling(tok)
    env = ThinkgymEnvironment("Arithmetic")
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}],
        tools=[env.step],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert '"name": "step"' in text
    assert tok.unk_token_id not in tok(text)["input_ids"]


TOOL_CALLS = [
    '<tool_call>\n{"name": "step", "arguments": {"step": "Answer: 30"}}\n</tool_call><|im_end|>',
    '<tool_call>\n{"name": "step", "arguments": {"step": "Answer: 31"}}\n</tool_call><|im_end|>',
]


def _script_bias(tok, prefix, scripts, context=12, bias=100.0):
    """``sequence_bias`` that makes generation after ``prefix`` write one of ``scripts``.

    A standard transformers generation option steers the (untrained) tiny model: each next
    character of a script gets a large bias when the ``context`` characters before it match.
    Where scripts differ (the answer digit) both characters get the same bias, so sampling picks
    either: the group's rollouts then earn different rewards from the env.
    """
    out: dict[tuple[int, ...], float] = {}
    for script in scripts:
        ids = tok(prefix + script, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        start = len(tok(prefix, add_special_tokens=False)["input_ids"])
        for i in range(start, len(ids)):
            out[tuple(ids[i - context : i + 1])] = bias
    return out


def test_one_grpo_step_with_rewards_from_the_env(tmp_path):
    pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    import inspect

    import datasets

    if "environment_factory" not in inspect.signature(trl.GRPOTrainer.__init__).parameters:
        pytest.skip(f"trl {trl.__version__} has no GRPOTrainer(environment_factory=...)")
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = tool_calling_tokenizer(build_char_tokenizer())
    model = build_tiny_model(
        tok, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=2048
    )
    model.save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    instances: list[ThinkgymEnvironment] = []
    factory = environment_factory("Arithmetic", difficulty=0)

    def tracked():
        env = factory()
        instances.append(env)
        return env

    row = {"prompt": [{"role": "user", "content": "Solve it.\n\n"}], "problem": PROBLEM, "seed": 0}
    dataset = datasets.Dataset.from_list([row] * 4)
    trainer = trl.GRPOTrainer(
        model=str(tmp_path / "tiny"),
        processing_class=tok,
        train_dataset=dataset,
        environment_factory=tracked,
        args=trl.GRPOConfig(
            output_dir=str(tmp_path / "grpo"),
            max_steps=1,
            per_device_train_batch_size=4,
            num_generations=4,
            max_completion_length=100,
            max_tool_calling_iterations=1,
            temperature=1.0,
            generation_kwargs={
                "sequence_bias": _script_bias(tok, "<|im_start|>assistant\n", TOOL_CALLS)
            },
            report_to="none",
            logging_steps=1,
            save_strategy="no",
            use_cpu=True,
            seed=0,
        ),
    )
    out = trainer.train()
    assert out.global_step == 1
    log = trainer.state.log_history[0]
    assert log["tools/call_frequency"] > 0
    rollouts = instances[-4:]  # TRL pools one instance per rollout of the batch
    assert len(instances) == 4
    assert all(e.rewards for e in rollouts), "every rollout calls the step tool once"
    answers = [e.env.get_state().answer for e in rollouts]
    assert set(answers) <= {"30", "31"}
    # each rollout's reward is the env's verdict on the answer it sent through the tool
    expected = [1.0 if a == "30" else 0.0 for a in answers]
    assert [e.get_reward() for e in rollouts] == expected
    assert log["rewards/ThinkgymEnvironment/mean"] == pytest.approx(sum(expected) / 4)
    assert log["reward"] == pytest.approx(sum(expected) / 4)
    assert log["frac_reward_zero_std"] < 1.0 and log["grad_norm"] > 0  # a real learning signal
