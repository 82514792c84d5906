"""DPO jobs on the fake cloud, through the real SDKs: the request bodies are what the APIs document."""

import json

import pytest

from tests.orchestrator.test_jobs import clouds, run, submit  # noqa: F401 (clouds is a fixture)
from tests.orchestrator.test_tokens_cost import make_examples

TOGETHER_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


@pytest.fixture
def files(tmp_path):
    make_examples(tmp_path / "train.jsonl", 20, 60, "gpt-4o-mini-2024-07-18")
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"Write a push message for card number {i}."}]},
            "preferred_output": [{"role": "assistant", "content": f"Card {i}: 2% back. Apply in the app."}],
            "non_preferred_output": [{"role": "assistant", "content": f"CARD {i}!!! THE BEST EVER!!!"}],
        }
        for i in range(12)
    ]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def spec(folder, name: str, text: str):
    path = folder / name
    path.write_text(f"model: gpt-4o-mini-2024-07-18\nmodels: {{together: {TOGETHER_MODEL}}}\n{text}")
    return path


def last_body(cloud, path: str) -> dict:
    index = max(i for i, (m, p, _) in enumerate(cloud.requests) if m == "POST" and p.endswith(path))
    return json.loads(cloud.bodies[index])


def finished_sft(capsys, folder, provider: str) -> dict:
    code, job, _ = submit(capsys, spec(folder, "sft.yaml", "training_file: train.jsonl\n"), "--provider", provider)
    assert code == 0
    code, _, _ = run(capsys, "watch", job["id"], "--interval", "0.05")
    assert code == 0
    return job


def test_openai_dpo_continues_the_sft_model_with_beta(clouds, files, capsys):  # noqa: F811
    openai_cloud, _ = clouds
    sft = finished_sft(capsys, files, "openai")
    _, out, _ = run(capsys, "status", sft["id"], "--json")
    sft_model = json.loads(out)["result_model"]
    text = (
        f"training_file: pairs.jsonl\nmethod: dpo\nbeta: 0.2\nfrom_job: {sft['id']}\nhyperparameters: {{n_epochs: 2}}\n"
    )
    code, job, _ = submit(capsys, spec(files, "dpo.yaml", text), "--provider", "openai")
    assert code == 0 and job["status"] == "validating"
    body = last_body(openai_cloud, "/fine_tuning/jobs")
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}}}
    assert body["model"] == sft_model.split(":ckpt")[0] and body["model"].startswith("ft:gpt-4o-mini")
    code, _, _ = run(capsys, "watch", job["id"], "--interval", "0.05")
    _, out, _ = run(capsys, "status", job["id"], "--json")
    assert code == 0 and json.loads(out)["status"] == "succeeded"


def test_together_dpo_starts_from_the_sft_checkpoint(clouds, files, capsys):  # noqa: F811
    _, together_cloud = clouds
    sft = finished_sft(capsys, files, "together")
    code, job, _ = submit(
        capsys, spec(files, "dpo.yaml", f"training_file: pairs.jsonl\nmethod: dpo\nbeta: 0.3\nfrom_job: {sft['id']}\n")
    )
    assert code == 0 and job["provider"] == "together"  # openai is skipped: the SFT job ran on together
    body = last_body(together_cloud, "/fine-tunes")
    assert body["training_method"]["method"] == "dpo" and body["training_method"]["dpo_beta"] == 0.3
    assert body["from_checkpoint"] == sft["remote_id"] and not body.get("model")
    assert "train_on_inputs" not in body["training_method"]
    estimate = last_body(together_cloud, "/fine-tunes/estimate-price")
    assert estimate["training_method"]["method"] == "dpo" and estimate["from_checkpoint"] == sft["remote_id"]
    assert job["estimate_usd"] > 0


def test_dpo_without_a_parent_and_wrong_data_are_refused_before_upload(clouds, files, capsys):  # noqa: F811
    openai_cloud, together_cloud = clouds
    code, _, err = run(capsys, "submit", str(spec(files, "a.yaml", "training_file: train.jsonl\nmethod: dpo\n")), "-y")
    assert code == 2 and "preference pairs" in err and "nothing was uploaded" in err
    code, _, err = run(
        capsys, "submit", str(spec(files, "b.yaml", "training_file: pairs.jsonl\nmethod: dpo\nfrom_job: nope\n")), "-y"
    )
    assert code == 2 and "not in the ledger" in err
    code, _, err = run(capsys, "submit", str(spec(files, "c.yaml", "training_file: train.jsonl\nbeta: 0.1\n")), "-y")
    assert code == 2 and "for `method: dpo`" in err and "c.yaml" in err
    code, _, err = run(capsys, "submit", str(spec(files, "d.yaml", "training_file: pairs.jsonl\n")), "-y")
    assert code == 2 and "chat or instruction" in err
    assert openai_cloud.count("POST", r"/files$") == 0 and together_cloud.count("POST", r"/files$") == 0
