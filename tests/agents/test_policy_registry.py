"""The policy registry: one load_policy for names, directories, FILE.py:FACTORY and objects, and
--policy on every command that takes one."""

from __future__ import annotations

import textwrap

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents import OracleAgent, RandomAgent, list_policies, load_policy, register_policy
from thinkgym.agents.registry import (
    _REGISTRY,
    check_policy_spec,
    describe_policy,
    policy_needs_env,
    require_trainable,
)
from thinkgym.cli import main

PLUGIN = textwrap.dedent(
    '''
    """A policy that always proposes the task's first candidate step."""
    from thinkgym.agents import Proposal, register_policy


    class FirstCandidate:
        def __init__(self, env):
            self.env = env

        def propose(self, observations, n, **kwargs):
            out = []
            for obs in observations:
                self.env.reset(options={"problem": self.env.parse_problem(obs.splitlines()[0])})
                state = self.env.get_state()
                for line in obs.splitlines()[1:]:
                    state, _, _ = self.env.apply(state, line)
                steps = self.env.candidate_steps(state) or ["Answer: 0"]
                out.append([Proposal(steps[0], 0.0, 0.0, 1) for _ in range(n)])
            return out


    def make(env):
        return FirstCandidate(env)


    def make_oracle(env, seed=0):
        from thinkgym.agents import OracleAgent

        return OracleAgent(env, seed=seed)


    register_policy("first-candidate-test", make, override=True)
    '''
)


@pytest.fixture()
def plugin(tmp_path):
    path = tmp_path / "my_policy.py"
    path.write_text(PLUGIN)
    yield path
    _REGISTRY.pop("first-candidate-test", None)


@pytest.fixture()
def game24():
    return gym.make("thinkgym/Game24-v0").unwrapped


def test_builtin_names_need_an_env_and_build_scripted_agents(game24) -> None:
    assert list_policies()[:3] == ["default", "random", "oracle"]
    assert isinstance(load_policy("oracle", env=game24), OracleAgent)
    assert isinstance(load_policy("random", env=gym.make("thinkgym/Game24-v0")), RandomAgent)
    assert policy_needs_env("oracle") and not policy_needs_env("default")
    with pytest.raises(ValueError, match="plays one env at a time: pass env="):
        load_policy("oracle")


def test_unknown_names_list_the_registered_ones_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"'orcale'.*did you mean 'oracle'.*registered: default"):
        load_policy("orcale")
    with pytest.raises(ValueError, match="did you mean 'random'"):
        check_policy_spec("randm")


def test_a_missing_directory_is_an_error_and_nothing_is_downloaded(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="typo"):
        load_policy(str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="typo"):
        check_policy_spec(str(tmp_path / "typo"))


def test_a_saved_policy_directory_and_default_load(tmp_path) -> None:
    pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    LLMPolicy(
        build_tiny_model(tok, hidden_size=32, layers=1, heads=2), tok, device="cpu"
    ).save_pretrained(tmp_path / "p")
    policy = load_policy(str(tmp_path / "p"), device="cpu", max_batch_rows=7)
    assert isinstance(policy, LLMPolicy) and policy.max_batch_rows == 7
    assert require_trainable(policy, "p", "sft") is policy
    shipped = load_policy(None, device="cpu")
    assert isinstance(shipped, LLMPolicy) and describe_policy(None) == "LLMPolicy.default()"


def test_register_refuses_taken_builtin_and_odd_names() -> None:
    def make():
        return RandomAgent(None)

    with pytest.raises(ValueError, match="built in"):
        register_policy("oracle", make)
    with pytest.raises(ValueError, match="may not contain ':'"):
        register_policy("a:b", make)
    with pytest.raises(TypeError, match="callable"):
        register_policy("x-test", 3)  # type: ignore[arg-type]
    register_policy("x-test", make)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_policy("x-test", lambda: None)
    finally:
        _REGISTRY.pop("x-test", None)


def test_file_factory_and_registered_plugin_policies(plugin, game24) -> None:
    policy = load_policy(f"{plugin}:make", env=game24)
    assert type(policy).__name__ == "FirstCandidate"
    assert policy_needs_env(f"{plugin}:make")
    oracle = load_policy(f"{plugin}:make_oracle", env=game24, seed=3)
    assert isinstance(oracle, OracleAgent)
    assert "first-candidate-test" in list_policies()  # the file registered it when it ran
    assert type(load_policy("first-candidate-test", env=game24)).__name__ == "FirstCandidate"
    with pytest.raises(ValueError, match="defines no 'mak'.*did you mean 'make'"):
        load_policy(f"{plugin}:mak", env=game24)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_policy(f"{plugin.parent / 'nope.py'}:make")


def test_a_factory_must_return_something_that_proposes(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def make():\n    return 42\n")
    with pytest.raises(TypeError, match="has no propose"):
        load_policy(f"{bad}:make")


def test_an_object_is_returned_as_it_is_and_a_scripted_one_is_not_trainable(game24) -> None:
    agent = OracleAgent(game24)
    assert load_policy(agent) is agent
    with pytest.raises(TypeError, match="neither a spec string nor an object with propose"):
        load_policy(3.5)
    with pytest.raises(TypeError, match="trains a policy with a torch model.*'oracle.*OracleAgent"):
        require_trainable(agent, "oracle", "grpo")


def test_evaluation_takes_a_policy_spec(plugin) -> None:
    from thinkgym.envs import eval_problems
    from thinkgym.learning.evaluation import pass_at, run_episodes

    problems = eval_problems("Game24", 3)
    assert pass_at(run_episodes("oracle", "thinkgym/Game24-v0", problems)) == 1.0
    assert pass_at(run_episodes(f"{plugin}:make_oracle", "thinkgym/Game24-v0", problems)) == 1.0


# ---------------------------------------------------------------------------- commands
def test_bench_runs_a_file_factory_policy_and_a_plugin_registered_one(plugin, tmp_path) -> None:
    base = ["bench", "--envs", "Game24", "--planners", "greedy", "--problems", "2", "--quiet"]
    base += ["--no-plot", "--no-throughput"]
    assert main([*base, "--policy", f"{plugin}:make", "--out", str(tmp_path / "a")]) == 0
    argv = [*base, "--plugin", str(plugin), "--policy", "first-candidate-test"]
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert "first-candidate-test" in (tmp_path / "b" / "results.md").read_text()


def test_bench_config_takes_a_policy_object(game24, tmp_path) -> None:
    from thinkgym.bench import BenchConfig, run_benchmark

    config = BenchConfig(
        envs=["Game24"],
        planners=["greedy"],
        problems=2,
        policy=OracleAgent(game24),
        throughput=False,
        progress=False,
    )
    report = run_benchmark(config)
    assert report.rows[0]["solve_rate"] == 1.0 and report.policy_label == "OracleAgent"
    assert config.to_dict()["policy"] == "<OracleAgent>"
    with pytest.raises(ValueError, match="neither a policy spec"):
        BenchConfig(policy=3).validate()


def test_play_and_export_take_a_file_factory_policy(plugin, tmp_path, capsys) -> None:
    argv = ["play", "Game24", "--agent", "policy", "--policy", f"{plugin}:make_oracle"]
    assert main([*argv, "--quiet"]) == 0
    assert "solved 1 of 1" in capsys.readouterr().out
    pytest.importorskip("datasets")
    out = tmp_path / "sft.jsonl"
    argv = ["export", "--env", "Game24", "--planner", "best_of_n", "--budget", "8", "--problems"]
    argv += ["2", "--policy", f"{plugin}:make_oracle", "--out", str(out), "--format", "jsonl"]
    argv += ["--include-wrong"]
    assert main(argv) == 0
    assert out.is_file() and out.read_text().strip()


def test_a_bad_policy_is_one_line_before_any_work(tmp_path, capsys) -> None:
    for argv in (
        ["bench", "--envs", "Game24", "--policy", "orcale"],
        ["play", "Game24", "--agent", "policy", "--policy", "orcale"],
        ["train", "grpo", "--env", "Arithmetic", "--policy", "orcale"],
        ["train", "sft", "--env", "Arithmetic", "--out", str(tmp_path), "--init", "orcale"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "did you mean 'oracle'" in err, (argv, err)
