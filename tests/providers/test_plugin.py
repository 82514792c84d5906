"""An outside provider, installed through the `adsft.providers` entry point, goes through validate,
estimate, submit, status and score end to end with one module, one price entry and its fake; its key
never reaches the output or the ledger; and submit reads the training file once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import providers
from orchestrator.cli import main

SITE = Path(__file__).resolve().parents[1] / "plugin" / "site"
KEY = "echo-secret-RECOGNISABLE-77aa"
MODEL = "echo-org/Meta-Llama-3.1-8B-Instruct"
PRICES = """prices:
  - {provider: echo-cloud, model: "echo-org/*", method: sft, training_per_1m: 2.0,
     inference_input_per_1m: 0.5, inference_output_per_1m: 1.0, source: "echo price list", as_of: 2026-11-01}
models:
  - {provider: echo-cloud, model: "echo-org/*", context_limit: 4096}
"""


@pytest.fixture
def echo(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(SITE))  # "installs" the plugin: its dist-info names the entry point
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    monkeypatch.setenv("ADSFT_PRICES", str(prices))
    monkeypatch.setenv("ECHO_API_KEY", KEY)
    cls = providers.provider_class("echo")
    cls.jobs.clear()
    cls.history.clear()
    cls.completions[:] = ["Open an account today."]
    return cls


def write_train(path: Path, n: int = 12) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"Write an ad {i}"}, {"role": "assistant", "content": f"Ad {i}."}]}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_plugin_is_registered_with_its_facts(echo):
    assert "echo" in providers.provider_names()
    assert providers.providers_for(MODEL) == {"echo"}
    assert providers.price_id("echo") == "echo-cloud"
    assert "echo" not in providers.auto_chain(lambda name: True)  # no auto_rank: only when named


def test_providers_lists_the_plugin_beside_the_builtins(echo, capsys):
    code, out, _ = run(capsys, "providers", "--json")
    rows = {r["provider"]: r for r in json.loads(out)}
    assert code == 0 and {"echo", "local", "openai", "together"} <= set(rows)
    assert rows["echo"]["key_env"] == ["ECHO_API_KEY"] and rows["echo"]["key_set"] is True
    assert rows["local"]["offline"] and rows["local"]["key_set"] is None and "local-chat" in rows["local"]["formats"]
    code, out, _ = run(capsys, "providers")
    assert code == 0 and "echo" in out and "ECHO_API_KEY: set" in out


def test_validate_estimate_submit_status_score_end_to_end(echo, tmp_path, capsys):
    train = write_train(tmp_path / "train.jsonl")
    code, out, _ = run(capsys, "validate", str(train), "--provider", "echo", "--model", MODEL, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["files"][0]["format"] == "chat"

    one = tmp_path / "one.jsonl"
    write_train(one, 1)
    code, out, _ = run(capsys, "validate", str(one), "--provider", "echo", "--json")
    assert code == 2 and json.loads(out)["counts"]["too_few_examples"] == 1  # its own minimum (2)

    code, out, _ = run(capsys, "estimate", str(train), "--provider", "echo", "--model", MODEL, "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["provider"] == "echo" and row["price_per_1m"] == 2.0 and row["epochs"] == 1
    assert row["cost_usd"] == pytest.approx(row["billed_tokens"] * 2.0 / 1e6, abs=1e-4)
    assert row["scoring_1000_usd"] is not None

    spec = tmp_path / "job.yaml"
    spec.write_text(f"providers: [echo]\nmodel: {MODEL}\ntraining_file: train.jsonl\n", encoding="utf-8")
    code, out, err = run(capsys, "submit", str(spec), "--yes", "--json")
    job = json.loads(out)
    assert code == 0 and job["provider"] == "echo" and job["remote_id"].startswith("echo-"), err
    for _ in range(3):
        code, out, _ = run(capsys, "status", job["id"], "--json")
    status = json.loads(out)
    assert code == 0 and status["status"] == "succeeded" and status["result_model"].endswith(job["remote_id"])

    code, out, _ = run(capsys, "events", job["id"], "--json")
    assert code == 0 and "<echo key>" in out and KEY not in out  # redacted

    code, out, _ = run(
        capsys, "score", "--provider", "echo", "--model", status["result_model"], "--k", "2", "--limit", "3",
        "--run", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    summary = json.loads(out)
    assert code == 0 and summary["briefs"] == 3 and summary["attempts"] >= 3
    assert any(call == "complete" for call, _ in echo.history)

    ledger = Path(tmp_path / "home" / "ledger.sqlite")
    dumped = "\n".join(sqlite3.connect(ledger).iterdump()) if ledger.exists() else ""
    assert KEY not in dumped


def test_keys_set_takes_the_plugin_and_redact_hides_its_key(echo, monkeypatch, capsys):
    from providers.keys import get_key, redact

    monkeypatch.delenv("ECHO_API_KEY")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("echo-stored-key-123456\n"))
    code, out, _ = run(capsys, "keys", "set", "echo")
    assert code == 0 and "0600" in out
    assert (Path(out.split()[2]).stat().st_mode & 0o777) == 0o600
    assert get_key("echo") == "echo-stored-key-123456"
    assert redact("x echo-stored-key-123456 y") == "x <echo key> y"


def test_submit_reads_the_training_file_once(echo, tmp_path, monkeypatch, capsys):
    train = write_train(tmp_path / "train.jsonl")
    spec = tmp_path / "job.yaml"
    spec.write_text(f"providers: [echo]\nmodel: {MODEL}\ntraining_file: train.jsonl\n", encoding="utf-8")
    opened: list[str] = []
    real_open = Path.open

    def counting_open(self, *args, **kwargs):
        if self.resolve() == train.resolve():
            opened.append(args[0] if args else kwargs.get("mode", "r"))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting_open)
    code, _, err = run(capsys, "submit", str(spec), "--yes", "--json")
    assert code == 0, err
    # hash (idempotency key, upload dedup), validation and token counts: one pass (the fake's upload reads
    # nothing; a real provider's upload then sends the bytes)
    assert len(opened) == 1, opened


def test_the_validation_pass_hashes_the_file_as_sha256_does(echo, tmp_path):
    from orchestrator.jobspec import sha256_file
    from orchestrator.validate import validate

    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"text": "a"}\n\n  \nnot json\n{"text": "b"}')  # blank lines, a bad line, no final newline
    assert validate(path, "together").files[0].sha256 == sha256_file(path)


def test_the_registry_sees_a_package_put_on_the_path_and_one_taken_off(monkeypatch):
    assert "echo" not in providers.provider_names()  # the registry's answer is kept between calls...
    with monkeypatch.context() as patch:
        patch.syspath_prepend(str(SITE))
        assert "echo" in providers.provider_names()  # ...until the import path changes
    assert "echo" not in providers.provider_names()
