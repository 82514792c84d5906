"""The local DPO trainer on a micro model: the policy learns to prefer the preferred answers, starting from a
fresh adapter or from an SFT job's adapter (which is then the reference)."""

import json

import pytest
import torch

from providers.local.dpo import DPOConfig, _tensors, dpo_loss, read_pairs, sequence_logps, train_dpo
from providers.local.jobstore import JobStore
from providers.local.train import TrainConfig, load_base, train


@pytest.fixture(scope="module")
def pairs_file(train_file, tmp_path_factory):
    """Pairs from the synthetic set: its clean message against the same message shouted."""
    out = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    rows = []
    for line in train_file.read_text().splitlines()[:16]:
        chat = json.loads(line)["messages"]
        answer = chat[-1]["content"]
        rows.append(
            {
                "input": {"messages": chat[:-1]},
                "preferred_output": [{"role": "assistant", "content": answer}],
                "non_preferred_output": [{"role": "assistant", "content": answer.upper() + " BEST EVER!!!"}],
            }
        )
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def margins(model_dir, adapter, pairs_file) -> float:
    """Mean log pi(y+) - log pi(y-) over the pairs, for the base (adapter None) or base + adapter."""
    tokenizer, model = load_base(str(model_dir), torch.device("cpu"), torch.float32)
    from peft import LoraConfig, PeftModel, get_peft_model

    peft_model = (
        PeftModel.from_pretrained(model, str(adapter))
        if adapter
        else get_peft_model(model, LoraConfig(r=1, target_modules="all-linear"))  # B = 0: the base itself
    )
    peft_model.eval()
    pairs = read_pairs(tokenizer, str(pairs_file), 1024)
    with torch.no_grad():
        logps, _ = sequence_logps(peft_model, **_tensors(pairs, tokenizer.pad_token_id, torch.device("cpu")))
    n = len(pairs)
    return float((logps[:n] - logps[n:]).mean())


def test_loss_is_log2_at_the_reference_and_falls_with_the_margin():
    ref = torch.tensor([-10.0, -12.0, -20.0, -22.0])
    lengths = torch.tensor([5, 6, 5, 6])
    loss, figures = dpo_loss(ref.clone(), ref, lengths, 0.1, 0.0)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(2.0)).item()) and figures["margin"] == 0
    better = ref + torch.tensor([1.0, 1.0, -1.0, -1.0])
    lower, figures = dpo_loss(better, ref, lengths, 0.1, 0.0)
    assert lower < loss and figures["accuracy"] == 1.0


def test_dpo_from_the_base_learns_the_preference(micro_model, pairs_file, tmp_path):
    store = JobStore(tmp_path / "job")
    store.write_spec({})
    result = train_dpo(
        DPOConfig(str(micro_model), str(pairs_file), str(pairs_file), r=8, alpha=16, epochs=3, learning_rate=3e-3),
        store,
    )
    assert result["status"] == "succeeded" and (store.adapter / "adapter_config.json").is_file()
    assert (store.folder / "reference_logps.pt").is_file()
    assert margins(micro_model, store.adapter, pairs_file) > margins(micro_model, None, pairs_file) + 1.0
    assert result["val_accuracy"] > 0.5 and result["val_loss"] < 0.69


def test_dpo_from_an_sft_adapter_keeps_it_as_start_and_reference(micro_model, train_file, pairs_file, tmp_path):
    sft = JobStore(tmp_path / "sft")
    sft.write_spec({})
    train(TrainConfig(str(micro_model), str(train_file), epochs=1, r=8, alpha=16, learning_rate=3e-3), sft)
    store = JobStore(tmp_path / "dpo")
    store.write_spec({})
    config = DPOConfig(str(micro_model), str(pairs_file), reference_adapter=str(sft.adapter), epochs=2)
    result = train_dpo(config, store)
    assert result["status"] == "succeeded"
    before, after = margins(micro_model, sft.adapter, pairs_file), margins(micro_model, store.adapter, pairs_file)
    assert after > before
    saved = json.loads((store.adapter / "adapter_config.json").read_text())
    assert saved["r"] == 8  # the SFT adapter's layout, trained further
