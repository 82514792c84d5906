"""`adsft improve` end to end on a micro model: SFT -> score -> pairs -> DPO -> score -> compare, each step in
the ledger; a second run continues (here: finds every step finished) instead of training again."""

import json

from orchestrator.briefs import load_eval
from orchestrator.cli import main
from orchestrator.ledger import Ledger


def test_improve_runs_every_step_once_and_keeps_held_out_briefs_out_of_training(
    micro_model, tmp_path, capsys, monkeypatch
):
    prices = tmp_path / "prices.yaml"  # the micro model's training throughput, for the estimate before submit
    prices.write_text(f"models:\n  - {{provider: local, model: '{micro_model}', tokens_per_second: 5000}}\n")
    monkeypatch.setenv("ADSFT_PRICES", str(prices))
    folder = tmp_path / "improve"
    args = ["improve", "--model", str(micro_model), "--folder", str(folder), "--examples", "24"]
    args += ["--mine-briefs", "6", "--samples", "2", "--briefs", "4", "--k", "2", "--json"]
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    result = json.loads(out.out)
    for label in ("sft", "sft+dpo"):
        figures = result[label]
        assert figures["briefs"] == 4 and figures["ci"][0] <= figures["mean_regenerations"] <= figures["ci"][1]
    assert (
        result["difference"]["ci_low"] <= result["difference"]["mean_regenerations"] <= result["difference"]["ci_high"]
    )
    assert (folder / "report" / "report.html").is_file() and result["verdict"].startswith("SFT+DPO")
    steps = Ledger().steps(str(folder.resolve()))
    names = ["synth", "sft", "mine", "pairs", "dpo", "score sft", "score dpo", "compare"]
    assert [s["name"] for s in steps] == names and all(s["status"] == "done" for s in steps)
    sft, dpo = Ledger().job(result["jobs"]["sft"]), Ledger().job(result["jobs"]["dpo"])
    assert sft.status == dpo.status == "succeeded"
    assert json.loads(dpo.spec)["method"] == "dpo" and json.loads(dpo.spec)["from_job"] == sft.id
    # pairs come from training briefs only: no held-out prompt reaches the DPO job
    held_out = {b.product for b, _ in load_eval(folder / "eval_en.jsonl")}
    prompts = [
        json.loads(x)["input"]["messages"][-1]["content"] for x in (folder / "pairs.jsonl").read_text().splitlines()
    ]
    assert prompts and not any(product in p for p in prompts for product in held_out)
    assert result["pairs"]["pairs"] == len(prompts) + result["pairs"]["validation"]

    code = main(args)  # the same command again: every step is found finished, nothing is trained again
    again = capsys.readouterr()
    assert code == 0 and json.loads(again.out)["difference"] == result["difference"]
    assert again.err.count("finished before, reused") == len(names)
    assert len(Ledger().jobs()) == 2
