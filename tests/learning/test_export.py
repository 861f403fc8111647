"""Export of traces and search results as TRL datasets (SFT, DPO pairs, stepwise PRM)."""

from __future__ import annotations

import argparse
import os

import pytest

from thinkgym.agents.base import OracleAgent, Proposal
from thinkgym.envs.mathword import MathWordEnv
from thinkgym.learning.export import (
    load_dataset_file,
    load_results,
    node_outcomes,
    preference_records,
    prm_records,
    save_dataset,
    save_results,
    sft_records,
    to_dataset,
)
from thinkgym.learning.traces import Trace
from thinkgym.search import make_planner, score_result

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TRACE = Trace(
    "thinkgym/MathWord-v0", "Problem: What is 2 * 3 + 1?", ("2 * 3 = 6", "6 + 1 = 7", "Answer: 7")
)


class _WrongAnswerPolicy:
    """The reference step first, then a wrong final answer as its sibling (scripted)."""

    def __init__(self, env):
        self.oracle = OracleAgent(env)

    def propose(self, observations, n=1, **kwargs):
        good = self.oracle.propose(observations, 1)
        return [
            [Proposal(g.text, logprob=-1.0, tokens=10)]
            + [Proposal("Answer: 0", logprob=-2.0, tokens=9)] * (n - 1)
            for [g] in good
        ]


@pytest.fixture(scope="module")
def env():
    return MathWordEnv()


@pytest.fixture(scope="module")
def results(env):
    out = [
        make_planner("beam", policy=_WrongAnswerPolicy(env), budget=40).plan(env, seed=s)
        for s in range(2)
    ]
    for r in out:
        score_result(env, r)
    return out


def test_sft_records_per_step_and_per_trajectory():
    recs = sft_records([TRACE])
    assert recs == [
        {"prompt": "Problem: What is 2 * 3 + 1?\n", "completion": "2 * 3 = 6\n"},
        {"prompt": "Problem: What is 2 * 3 + 1?\n2 * 3 = 6\n", "completion": "6 + 1 = 7\n"},
        {
            "prompt": "Problem: What is 2 * 3 + 1?\n2 * 3 = 6\n6 + 1 = 7\n",
            "completion": "Answer: 7\n",
        },
    ]
    [whole] = sft_records([TRACE], granularity="trajectory")
    assert whole == {
        "prompt": "Problem: What is 2 * 3 + 1?\n",
        "completion": "2 * 3 = 6\n6 + 1 = 7\nAnswer: 7\n",
    }
    with pytest.raises(ValueError, match="granularity"):
        sft_records([TRACE], granularity="token")


def test_sft_from_search_keeps_only_correct(env, results):
    assert all(r.correct for r in results)
    recs = sft_records(results, env)
    assert len(recs) == sum(len(r.steps) for r in results)
    wrong = results[0].__class__(**{**results[0].__dict__, "correct": False})
    assert sft_records([wrong], env) == []
    assert len(sft_records([wrong], env, only_correct=False)) == len(wrong.steps)
    with pytest.raises(ValueError, match="needs its env"):
        sft_records(results)


def test_preference_pairs_are_siblings_with_opposite_outcomes(env, results):
    pairs = preference_records(results, env)
    assert pairs
    for p in pairs:
        assert set(p) == {"prompt", "chosen", "rejected"}
        assert p["rejected"] == "Answer: 0\n" and p["chosen"] != p["rejected"]
        assert p["prompt"].startswith("Problem: ") and p["prompt"].endswith("\n")
    labels = node_outcomes(results[0], env)
    tree = results[0].tree
    assert labels[0] is True
    for node in tree.nodes:
        if node.answer == "0":
            assert labels[node.id] is False


def test_prm_records(env, results):
    [rec] = prm_records([TRACE])
    assert rec == {
        "prompt": "Problem: What is 2 * 3 + 1?\n",
        "completions": list(TRACE.steps),
        "labels": [True] * 3,
    }
    recs = prm_records(results, env)
    assert any(not all(r["labels"]) for r in recs) and any(all(r["labels"]) for r in recs)
    for r in recs:
        assert len(r["completions"]) == len(r["labels"])
        if r["completions"][-1] == "Answer: 0":
            assert r["labels"][-1] is False


def test_results_round_trip(env, results, tmp_path):
    path = save_results(results, tmp_path / "results.jsonl")
    back = load_results(path, env)
    assert [r.steps for r in back] == [r.steps for r in results]
    assert preference_records(back, env) == preference_records(results, env)
    (tmp_path / "bad.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="bad.jsonl:1 is not a search result"):
        load_results(tmp_path / "bad.jsonl")


@pytest.mark.parametrize("fmt", ["disk", "jsonl", "parquet"])
def test_datasets_save_and_load_back(fmt, tmp_path, env, results):
    datasets = pytest.importorskip("datasets")
    for records in (sft_records([TRACE]), preference_records(results, env), prm_records([TRACE])):
        name = "ds" if fmt == "disk" else f"ds.{fmt}"
        path = save_dataset(to_dataset(records), tmp_path / name, fmt)
        back = load_dataset_file(path)
        assert back.to_list() == records
        if fmt == "disk":
            assert datasets.load_from_disk(str(path)).to_list() == records
    with pytest.raises(ValueError, match="no records"):
        to_dataset([])


def test_export_command(tmp_path):
    pytest.importorskip("datasets")
    from thinkgym.commands import export

    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    out = tmp_path / "sft.jsonl"
    args = parser.parse_args(
        [
            "--env",
            "mathword",
            "--kind",
            "prm",
            "--problems",
            "3",
            "--out",
            str(out),
            "--format",
            "jsonl",
        ]
    )
    assert export.run(args) == 0
    back = load_dataset_file(out)
    assert len(back) == 3 and back.column_names == ["prompt", "completions", "labels"]
    args = parser.parse_args(["--env", "MathWord", "--kind", "dpo", "--out", str(tmp_path / "x")])
    with pytest.raises(Exception, match="needs search results"):
        export.run(args)


def test_load_dataset_file_takes_the_format_when_the_name_does_not_say_it(tmp_path):
    pytest.importorskip("datasets")
    records = sft_records([TRACE])
    path = save_dataset(to_dataset(records), tmp_path / "data.bin", "parquet")
    assert load_dataset_file(path, "parquet").to_list() == records
    with pytest.raises(ValueError, match="data.bin: expected .*fmt="):
        load_dataset_file(path)
    with pytest.raises(ValueError, match="format='csv' must be one of"):
        load_dataset_file(path, "csv")


def test_export_command_refuses_an_out_suffix_of_another_format(tmp_path):
    pytest.importorskip("datasets")
    from thinkgym.commands import export
    from thinkgym.commands._common import CommandError

    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    for out, fmt, named in [("x.jsonl", "parquet", "jsonl"), ("x.parquet", "jsonl", "parquet")]:
        args = parser.parse_args(
            ["--env", "Arithmetic", "--out", str(tmp_path / out)]
            + ["--format", fmt, "--problems", "2"]
        )
        with pytest.raises(CommandError, match=f"looks like a {named} file but --format is {fmt}"):
            export.run(args)
        assert not (tmp_path / out).exists()


def test_export_command_silences_progress_bars_unless_asked(tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    from thinkgym.commands import export

    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    base = ["--env", "Arithmetic", "--problems", "2", "--format", "parquet"]
    assert datasets.is_progress_bar_enabled()
    assert export.run(parser.parse_args([*base, "--out", str(tmp_path / "a.bin")])) == 0
    out = capsys.readouterr()
    assert "Generating train split" not in out.err + out.out
    assert "wrote" in out.out and "(parquet)" in out.out
    assert datasets.is_progress_bar_enabled()  # restored after the command
    assert (
        export.run(parser.parse_args([*base, "--out", str(tmp_path / "b.bin"), "--progress"])) == 0
    )
    assert "Generating train split" in capsys.readouterr().err


def _tiny_model_dir(tmp_path):
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    model = build_tiny_model(
        tok, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=512
    )
    path = tmp_path / "tiny"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path), tok


def test_one_step_of_trl_sft_and_dpo_on_exported_data(tmp_path, env, results):
    pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    model_dir, tok = _tiny_model_dir(tmp_path)
    common = {
        "max_steps": 1,
        "per_device_train_batch_size": 2,
        "report_to": "none",
        "save_strategy": "no",
        "use_cpu": True,
        "logging_steps": 1,
    }
    sft_path = save_dataset(to_dataset(sft_records(results, env)), tmp_path / "sft", "disk")
    sft = trl.SFTTrainer(
        model=model_dir,
        args=trl.SFTConfig(output_dir=str(tmp_path / "sft-run"), **common),
        train_dataset=load_dataset_file(sft_path),
        processing_class=tok,
    )
    out = sft.train()
    assert out.global_step == 1 and out.training_loss > 0
    dpo_path = save_dataset(
        to_dataset(preference_records(results, env)), tmp_path / "dpo.jsonl", "jsonl"
    )
    dpo = trl.DPOTrainer(
        model=model_dir,
        args=trl.DPOConfig(output_dir=str(tmp_path / "dpo-run"), **common),
        train_dataset=load_dataset_file(dpo_path),
        processing_class=tok,
    )
    out = dpo.train()
    assert out.global_step == 1 and out.training_loss == pytest.approx(0.6931, abs=1e-3)
