"""The local trainer on a micro model: packing, answer-only loss, adapters, checkpoints, resume, spikes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from providers.errors import ProviderInputError
from providers.local import adapters
from providers.local.data import encode, pack, pad, read_chats
from providers.local.jobstore import JobStore
from providers.local.spike import SpikeGuard
from providers.local.train import AnswerLoss, TrainConfig, load_base, to_device, train

ROOT = Path(__file__).resolve().parents[2]


def test_packed_and_unpacked_loss_agree(micro_model, train_file):
    tokenizer, model = load_base(str(micro_model), torch.device("cpu"), torch.float32)
    examples = [encode(tokenizer, chat, 1024) for chat in read_chats(train_file)[:6]]
    packed = pack(examples, tokens_per_row=4096, rows_per_batch=8)
    padded = pad(examples, rows_per_batch=8, pad_id=tokenizer.pad_token_id)
    assert len(packed) == len(padded) == 1 and len(packed[0].input_ids) == 1  # all six in one packed row
    peft_model, _ = adapters.wrap(model, adapters.AdapterConfig("lora", r=4))
    loss = AnswerLoss(peft_model, None, answer_only=True).eval()
    with torch.no_grad():
        a = loss(**to_device(packed[0], torch.device("cpu")))
        b = loss(**to_device(padded[0], torch.device("cpu")))
        full = AnswerLoss(peft_model, None, answer_only=False)(**to_device(padded[0], torch.device("cpu")))
    assert torch.allclose(a, b, atol=1e-5), (a, b)
    assert torch.allclose(a, full, atol=1e-4)  # the answer-only head computes the same loss as the full one


@pytest.mark.parametrize("method", ["lora", "dora", "adalora", "prompt_lora"])
def test_methods_train_and_save_a_loadable_adapter(micro_model, train_file, tmp_path, method):
    from peft import PeftModel

    store = JobStore(tmp_path)
    store.write_spec({})
    result = train(
        TrainConfig(
            str(micro_model),
            str(train_file),
            method=method,
            epochs=1,
            learning_rate=1e-2,
            r=4,
            alpha=8,
            tokens_per_row=512,
            rows_per_batch=4,
            checkpoint_every=1000,
        ),
        store,
    )
    assert result["status"] == "succeeded" and (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] in (4, 8)
    _tokenizer, base = load_base(str(micro_model), torch.device("cpu"), torch.float32)
    loaded = PeftModel.from_pretrained(base, str(tmp_path / "adapter"))
    assert any("lora" in n for n, _ in loaded.named_parameters())
    if method == "adalora":
        assert "rank_budget" in store.state()["metrics"]
    if method == "prompt_lora":
        assert (tmp_path / "adapter" / "soft_prompt.safetensors").is_file()


def test_bad_model_path_is_a_clear_error(tmp_path, train_file):
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(ProviderInputError) as info:
        load_base(str(tmp_path / "not-a-model"), torch.device("cpu"), torch.float32)
    assert "config.json" in str(info.value)


def test_killed_worker_resumes_from_its_last_checkpoint(micro_model, train_file, tmp_path):
    store = JobStore(tmp_path / "job")
    config = {
        "base_model": str(micro_model),
        "training_file": str(train_file),
        "epochs": 6,
        "learning_rate": 1e-2,
        "r": 4,
        "alpha": 8,
        "tokens_per_row": 256,
        "rows_per_batch": 2,
        "checkpoint_every": 3,
        "log_every": 1,
    }
    store.write_spec({"config": config})
    worker = subprocess.Popen(
        [sys.executable, "-m", "providers.local.worker", str(store.folder)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while store.latest_checkpoint() is None and time.time() < deadline and worker.poll() is None:
        time.sleep(0.1)
    worker.kill()
    worker.wait()
    checkpoint = store.latest_checkpoint()
    assert checkpoint is not None and store.state()["status"] == "running"
    step = int(checkpoint.name.split("-")[1])
    result = train(__import__("providers.local.train", fromlist=["TrainConfig"]).TrainConfig(**config), store)
    assert result["status"] == "succeeded"
    assert any(f"resumed at step {step}" in e["message"] or "resumed at step" in e["message"] for e in store.events())


def test_cancel_keeps_a_final_checkpoint(micro_model, train_file, tmp_path):
    store = JobStore(tmp_path)
    store.write_spec({})
    store.request_cancel()
    result = train(TrainConfig(str(micro_model), str(train_file), epochs=1, r=4), store)
    assert result["status"] == "cancelled" and store.latest_checkpoint() is not None
    assert store.state()["status"] == "cancelled"


def test_spike_guard_rolls_back_and_lowers_the_learning_rate():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    guard = SpikeGuard([weight], optimizer, factor=3.0, min_history=3)
    for _ in range(5):
        assert guard.check_loss(1.0) is None
        guard.accept(1.0, 1.0)
    guard.take_snapshot()
    with torch.no_grad():
        weight.add_(5.0)  # a bad update slipped through
    assert guard.check_loss(float("nan")) is not None
    assert guard.check_loss(10.0) is not None and guard.check_grad(50.0) is not None
    lr = guard.rollback(None)
    assert torch.equal(weight.detach(), torch.ones(3)) and lr == pytest.approx(0.05)


def test_two_cpu_processes_end_with_identical_adapters(micro_model, train_file, tmp_path):
    store = JobStore(tmp_path / "ddp")
    config = {
        "base_model": str(micro_model),
        "training_file": str(train_file),
        "epochs": 1,
        "learning_rate": 1e-2,
        "r": 4,
        "alpha": 8,
        "tokens_per_row": 256,
        "rows_per_batch": 2,
        "checkpoint_every": 1000,
    }
    store.write_spec({"config": config})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "providers.local.worker",
            str(store.folder),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = store.state()
    assert state["status"] == "succeeded" and state["result"]["ranks_identical"] is True
    assert (store.adapter / "adapter_model.safetensors").is_file()


def test_qlora_without_gpu_names_the_fix(micro_model, train_file, tmp_path):
    store = JobStore(tmp_path)
    store.write_spec({})
    with pytest.raises(ProviderInputError) as info:
        train(TrainConfig(str(micro_model), str(train_file), method="qlora", epochs=1, r=4), store)
    assert "bitsandbytes" in str(info.value)


def test_local_provider_exports_adapter_and_merged_model(micro_model, train_file, tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    from providers.local import LocalProvider, jobs_root

    monkeypatch.setenv("ADSFT_HOME", str(tmp_path / "home"))
    store = JobStore(jobs_root() / "local-test")
    config = {"base_model": str(micro_model), "training_file": str(train_file), "epochs": 1, "r": 4, "alpha": 8}
    store.write_spec({"config": config, "model": str(micro_model)})
    train(TrainConfig(**config), store)
    provider = LocalProvider()
    assert provider.get_job("local-test").status.value == "succeeded"
    adapter = provider.download("local-test", tmp_path / "adapter")
    assert (adapter / "adapter_config.json").is_file()
    merged = provider.download("local-test", tmp_path / "merged", merged=True)
    model = AutoModelForCausalLM.from_pretrained(merged)
    assert not any("lora" in n for n, _ in model.named_parameters())
