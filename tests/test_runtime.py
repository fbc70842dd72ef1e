"""rule_context: the rule's log, and the job's provenance built from its wildcards and
params and timed from the start of the job, so that scripts do not repeat it."""

import logging
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from snakemake.iocontainers import Log, Params, Wildcards

from pipeline_lib import provenance, runtime
from pipeline_lib.runtime import RuleContext, rule_config, rule_context, wildcard_value


@pytest.fixture
def fake_smk(tmp_path, monkeypatch):
    """A Snakemake script object as a rule with wildcards, params and a log sees it; the
    thread setting and the module state rule_context touches are undone after the test."""
    calls = []

    def set_threads(n):
        calls.append(n)
        return n

    monkeypatch.setattr(runtime, "set_threads", set_threads)
    monkeypatch.setattr(provenance, "JOB_START", None)
    monkeypatch.setattr(provenance, "CODE_DIGEST", None)

    def make(params=None, wildcards=None, log=True):
        return SimpleNamespace(
            rule="unit_rule",
            threads=2,
            params=Params(fromdict=params or {}),
            wildcards=Wildcards(fromdict=wildcards or {}),
            log=Log(fromdict={"log": str(tmp_path / "rule.log")} if log else {}),
            set_threads_calls=calls,
        )

    return make


def test_wildcard_values_are_typed():
    assert wildcard_value("seed", "3") == 3 and isinstance(wildcard_value("seed", "3"), int)
    assert wildcard_value("sigma", "0") == 0.0 and isinstance(wildcard_value("sigma", "0"), float)
    assert wildcard_value("sigma", "0.08") == 0.08
    assert wildcard_value("epoch", "12") == 12  # any all-digit wildcard
    assert wildcard_value("dataset", "fashion_mnist") == "fashion_mnist"
    assert wildcard_value("variant", "1e3") == "1e3"  # not all digits: kept as written


def test_rule_config_is_wildcards_then_data_params():
    params = Params(
        fromdict={
            "cfg": {"epochs": 3},
            "seed": 0,
            "code": "digest",
            "device": "auto",
            "cache": "results/data/cache",
            "caption": "a figure",
        }
    )
    wildcards = Wildcards(fromdict={"dataset": "mnist", "seed": "0", "sigma": "0.08"})
    config = rule_config(params, wildcards)
    assert config == {"dataset": "mnist", "seed": 0, "sigma": 0.08, "cfg": {"epochs": 3}}
    assert list(config) == ["dataset", "seed", "sigma", "cfg"]
    # plain mappings and namespaces work too, and nothing at all gives an empty config
    assert rule_config({"n": 4}, SimpleNamespace(split="test")) == {"split": "test", "n": 4}
    assert rule_config() == {}


def test_rule_config_rejects_a_param_that_contradicts_a_wildcard():
    with pytest.raises(ValueError, match="seed"):
        rule_config({"seed": 1}, {"seed": "0"})


def test_rule_context_logs_and_builds_the_provenance(fake_smk):
    smk = fake_smk(
        params={"cfg": {"k": 4}, "n_samples": 12, "code": "abc123", "device": "cpu"},
        wildcards={"dataset": "mnist", "variant": "clean", "seed": "1"},
    )
    old_out, old_err = sys.stdout, sys.stderr
    with rule_context(smk) as log:
        assert isinstance(log, RuleContext) and isinstance(log, logging.LoggerAdapter)
        assert smk.set_threads_calls == [2]
        assert provenance.CODE_DIGEST == "abc123" and provenance.JOB_START == log.t0
        log.info("hello %d", 42)
        log.t0 -= 5.0  # the job started five seconds ago
        rec = log.provenance("cpu", data_provenance={"seed": 0})
        extra = log.provenance(config={"model": "results/m.pt", "seed": 7})
        fixed = log.provenance(wall_time_s=1.25)
    assert (sys.stdout, sys.stderr) == (old_out, old_err)
    assert rec["config"] == {
        "dataset": "mnist",
        "variant": "clean",
        "seed": 1,
        "cfg": {"k": 4},
        "n_samples": 12,
    }
    assert rec["code_digest"] == "abc123" and rec["device"] == "cpu"
    assert rec["data_provenance"] == {"seed": 0}
    assert 5.0 <= rec["wall_time_s"] < 60.0
    for key in ("packages", "git_commit", "git_describe", "lock_sha256", "environment_sha256"):
        assert rec[key], key
    # config entries that are not wildcards or params are added (and may override)
    assert extra["config"] == {**rec["config"], "model": "results/m.pt", "seed": 7}
    assert extra["device"] == "cpu" and "data_provenance" not in extra
    assert fixed["wall_time_s"] == 1.25
    text = open(smk.log[0]).read()
    assert "rule unit_rule" in text and "hello 42" in text and "done in" in text


def test_rule_context_records_the_device_used(fake_smk, monkeypatch):
    seen = {}

    def fake_make_provenance(params, **extra):
        seen.update(params=params, **extra)
        return {}

    monkeypatch.setattr(provenance, "make_provenance", fake_make_provenance)
    with rule_context(fake_smk(params={"device": "auto"}, wildcards={"seed": "0"})) as log:
        log.provenance(torch.device("cuda", 0))  # a device object is recorded as text
    assert seen["params"] == {"seed": 0} and seen["device"] == "cuda:0"
    assert isinstance(seen["wall_time_s"], float)


def test_rule_context_logs_a_failure_and_restores_the_streams(fake_smk):
    smk = fake_smk(params={"code": "x"})
    old_out, old_err = sys.stdout, sys.stderr
    with pytest.raises(RuntimeError, match="boom"), rule_context(smk) as log:
        log.info("before")
        raise RuntimeError("boom")
    assert (sys.stdout, sys.stderr) == (old_out, old_err)
    text = open(smk.log[0]).read()
    assert "before" in text and "failed after" in text and "boom" in text


def test_rule_context_without_a_log_file_writes_to_stderr(fake_smk, capsys):
    with rule_context(fake_smk(log=False)) as log:
        log.info("to stderr")
        assert log.config == {}
    assert "to stderr" in capsys.readouterr().err


def test_rule_context_times_from_the_start_of_the_job(fake_smk):
    before = time.time()
    with rule_context(fake_smk()) as log:
        assert before <= log.t0 <= time.time()
        assert 0.0 <= log.wall_time() < 60.0


def test_scripts_take_their_provenance_from_rule_context(root):
    """No script builds its own provenance record or times itself."""
    for path in sorted((root / "scripts").glob("*.py")):
        text = path.read_text()
        assert "make_provenance" not in text, path.name
        assert "time.time()" not in text, path.name
