"""Every usage error and bad input: a short message, exit 2, never a traceback."""

from __future__ import annotations

import io
import json
import sys

import pytest

from orchestrator.cli import main
from tests.orchestrator.test_tokens_cost import make_examples


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "args",
    [[], ["download"], ["list", "--bogus"], ["rules"], ["keys"], ["submit"], ["estimate", "x", "--epochs"]],
    ids=["nothing", "missing-argument", "unknown-option", "bare-group", "bare-keys", "submit", "option-value"],
)
def test_usage_errors_exit_2_without_a_traceback(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2 and "Traceback" not in err and err.strip()


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("adsft ")


def test_invalid_utf8_on_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"text": "\xff\xfe"}\n')))
    code, _, err = run(capsys, "check", "-")
    assert code == 2 and "not UTF-8" in err and "Traceback" not in err


def test_bom_is_accepted_and_empty_input_refused(capsys, tmp_path):
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"text": "Open a deposit in the app."}).encode() + b"\n")
    code, _, err = run(capsys, "check", str(bom), "--pack", "en")
    assert code in (0, 1) and "Traceback" not in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run(capsys, "check", str(empty))
    assert code == 2 and "empty" in err
    code, _, err = run(capsys, "validate", str(empty), "--provider", "together")
    assert code == 2


def test_models_a_provider_does_not_fine_tune_and_zero_epochs(capsys, tmp_path):
    train = tmp_path / "train.jsonl"
    make_examples(train, 20, 40, "gpt-4o-mini-2024-07-18")
    code, _, err = run(capsys, "validate", str(train), "--provider", "openai", "--model", "gpt-5-turbo")
    assert code == 2 and "does not fine-tune" in err and "did you mean" in err
    code, _, err = run(capsys, "estimate", str(train), "--provider", "openai", "--epochs", "0")
    assert code == 2 and "at least 1" in err


def _spec(tmp_path, extra: str) -> str:
    make_examples(tmp_path / "train.jsonl", 20, 40, "gpt-4o-mini-2024-07-18")
    path = tmp_path / "job.yaml"
    path.write_text(f"providers: [local]\ntraining_file: train.jsonl\n{extra}")
    return str(path)


def test_local_refuses_full_training_at_validation(capsys, tmp_path):
    code, _, err = run(capsys, "submit", _spec(tmp_path, "model: tiny\nmethod: full\n"), "--yes", "--dry-run")
    assert code == 2 and "method 'full'" in err and "Traceback" not in err


def test_a_misspelt_local_model_folder_is_bad_input_not_a_hub_download(capsys, tmp_path):
    (tmp_path / "models").mkdir()
    spec = _spec(tmp_path, f"model: {tmp_path}/models/smoll\n")
    code, _, err = run(capsys, "submit", spec, "--yes", "--dry-run")
    assert code == 2 and "no model folder" in err and "smoll" in err


def test_plain_text_on_stdin_is_one_message_per_line(capsys, monkeypatch):
    text = "Купите ЛУЧШИЙ вклад!!!\n\nOpen a deposit at 4% APY in the app today.\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, _ = run(capsys, "check", "-", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [r["passed"] for r in rows] == [False, True]
    assert {v["rule"] for v in rows[0]["violations"]} >= {"ru.caps", "ru.superlative"}


def test_csv_on_stdin_still_needs_its_text_column(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"text,channel\nOpen a deposit today.,push\n")))
    code, out, _ = run(capsys, "check", "-", "--json")
    assert code in (0, 1) and len(out.splitlines()) == 1
    csv_file = tmp_path / "m.csv"
    csv_file.write_text("message\nOpen a deposit today.\n")
    code, _, err = run(capsys, "check", str(csv_file))
    assert code == 2 and "`text` column" in err
