"""Wiring between the pipeline and the local trainer: each test failed before its fix."""

from __future__ import annotations

import json

import pytest
import torch

from orchestrator.jobspec import JobSpec
from providers.base import JobRequest
from providers.local import LocalProvider, train
from providers.local.adapters import AdapterConfig
from providers.local.defaults import LORA, MODELS
from providers.local.jobstore import JobStore


def test_fixed_width_batches_reach_the_trainer(micro_model, train_file, tmp_path, monkeypatch):
    """With torch.compile on, every batch the trainer steps on has the same shape (no recompiles)."""
    shapes = set()
    real = train.to_device

    def record(batch, device):
        shapes.add((len(batch.input_ids), *{len(row) for row in batch.input_ids}))
        return real(batch, device)

    monkeypatch.setattr(train, "to_device", record)
    monkeypatch.setattr(torch, "compile", lambda module, **_: module)  # the shapes matter here, not the compile
    store = JobStore(tmp_path)
    store.write_spec({})
    cfg = train.TrainConfig(
        str(micro_model), str(train_file), epochs=1, r=4, tokens_per_row=256, rows_per_batch=4, compile=True
    )
    assert train.train(cfg, store)["status"] == "succeeded"
    (shape,) = shapes  # one shape: tokens_per_row, or the longest example when one is longer
    assert shape[0] == 4 and shape[1] >= 256


def _config(spec: dict, monkeypatch) -> dict:
    monkeypatch.setattr("providers.local.resolve_model", lambda model: model)  # no tiny build needed here
    job = JobSpec.model_validate({"training_file": "t.jsonl", **spec})
    request = JobRequest(job.model or "", "t.jsonl", None, "key", job.hyperparameters_for())
    return LocalProvider()._config(request)


def test_lora_defaults_have_one_source(monkeypatch):
    tiny = _config({"model": "tiny"}, monkeypatch)  # the spec sets no LoRA: the model's recipe applies
    assert (tiny["r"], tiny["alpha"], tiny["epochs"]) == (MODELS["tiny"]["r"], MODELS["tiny"]["alpha"], 8)
    chosen = _config({"model": "tiny", "lora": {"r": 8}}, monkeypatch)
    assert chosen["r"] == 8 and chosen["alpha"] == MODELS["tiny"]["alpha"]
    other = _config({"model": "some/folder"}, monkeypatch)
    assert (other["r"], other["alpha"], other["dropout"]) == (LORA["r"], LORA["alpha"], LORA["dropout"])
    assert (train.TrainConfig("m", "f").r, AdapterConfig().r) == (LORA["r"], LORA["r"])
    assert train.TrainConfig(**_config({"model": "tiny"}, monkeypatch)).r == 64  # the worker builds it as is


def test_together_download_is_an_adapter_folder_peft_loads(micro_model, tmp_path, monkeypatch):
    pytest.importorskip("zstandard")
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from orchestrator.paths import home
    from providers.together import TogetherProvider
    from tests.fakecloud import FakeCloud, adapter_archive

    base = AutoModelForCausalLM.from_pretrained(str(micro_model))
    adapted = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    saved = tmp_path / "saved"
    adapted.save_pretrained(str(saved))
    cloud = FakeCloud("together").start()
    try:
        cloud.download_body = adapter_archive({p.name: p.read_bytes() for p in saved.iterdir()}, folder="ft-x-adapter")
        monkeypatch.setenv("TOGETHER_BASE_URL", cloud.base_url)
        monkeypatch.setenv("TOGETHER_API_KEY", "tg-test-key-123456")
        cloud.jobs["ft-x"] = None  # the download route only looks the id up
        dest = home() / "artifacts" / "job-1"
        folder = TogetherProvider().download("ft-x", dest)
    finally:
        cloud.stop()
    assert folder == dest and json.loads((folder / "adapter_config.json").read_text())["r"] == 4
    assert not list(dest.parent.glob("*.download"))  # the archive itself is not left behind
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(micro_model)), str(folder))
    assert loaded.peft_config["default"].r == 4
