"""`adsft pairs`: preference pairs from scoring runs, judged by the real rule pack; and the preference shape in
validate and estimate."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from orchestrator.briefs import load_eval
from orchestrator.cli import main
from orchestrator.paths import data_dir
from orchestrator.score import Attempt
from rules import load_pack

BAD = ["{ref} Best offer ever!!!", "BUY NOW!!! Amazing unbeatable deal, guaranteed.", "{up}"]


def english(n: int):
    return [(b, refs) for b, refs in load_eval(data_dir() / "briefs" / "eval.jsonl") if b.language == "en"][:n]


def attempt(brief, number: int, text: str, pack) -> Attempt:
    result = pack.check(text, brief)
    errors = [v.as_dict() for v in result.violations if v.level == "error"]
    return Attempt(brief.id, number, text, result.passed, None, errors, 50, 20, 0.1)


def write_run(folder: Path, briefs, passing: set[str], extra: list[Attempt] = ()) -> Path:
    """A scoring run: every brief gets three failing attempts; those in `passing` then one that passes."""
    pack = load_pack("en")
    folder.mkdir(parents=True)
    rows = []
    for brief, refs in briefs:
        texts = [b.format(ref=refs[0], up=refs[0].upper()) for b in BAD]
        if brief.id in passing:
            texts.append(refs[0])
        rows += [attempt(brief, i, t, pack) for i, t in enumerate(texts, 1)]
    rows += list(extra)
    meta = {"provider": "local", "model": "tiny", "k": 4, "eval_file": str(data_dir() / "briefs" / "eval.jsonl")}
    (folder / "run.json").write_text(json.dumps(meta))
    (folder / "attempts.jsonl").write_text("".join(json.dumps(asdict(a)) + "\n" for a in rows))
    return folder


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pairs_prefer_passing_attempts_and_the_worst_failures(tmp_path, capsys):
    briefs = english(12)
    passing = {b.id for b, _ in briefs[:8]}
    runs = write_run(tmp_path / "run", briefs, passing)
    out = tmp_path / "pairs.jsonl"
    code, stdout, _ = run(capsys, "pairs", str(runs), "--out", str(out), "--max-per-prompt", "2", "--json")
    assert code == 0
    summary = json.loads(stdout)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    val_path = Path(summary["files"]["validation"])
    val = [json.loads(x) for x in val_path.read_text().splitlines()]
    assert summary["pairs"] == len(lines) + len(val) == 2 * 12  # 2 a brief: 8 from attempts, 4 synthetic
    assert summary["from_attempts"] == 16 and summary["from_synthetic"] == 8
    # brief-disjoint: no prompt is in both files
    prompts = lambda rows: {json.dumps(r["input"]) for r in rows}  # noqa: E731
    assert not prompts(lines) & prompts(val) and len(prompts(val)) == 1
    pack = load_pack("en")
    by_prompt = {b.id: b for b, _ in briefs}
    for row in lines + val:
        assert set(row) == {"input", "preferred_output", "non_preferred_output"}
        good, bad = row["preferred_output"][0]["content"], row["non_preferred_output"][0]["content"]
        brief = next(by_prompt[i] for i in by_prompt if by_prompt[i].product in row["input"]["messages"][-1]["content"])
        assert pack.check(good, brief).passed and not pack.check(bad, brief).passed
    # the failures that break the most rules come first: the all-caps and the shouting ones, not the mild one
    first = lines[0]["non_preferred_output"][0]["content"]
    assert first.isupper() or first.startswith("BUY NOW")
    assert summary["per_rule"]["en.caps"] > 0 and sum(summary["per_rule"].values()) >= summary["pairs"]


def test_rule_filter_dedup_and_nothing_to_pair(tmp_path, capsys):
    briefs = english(3)
    runs = write_run(tmp_path / "run", briefs, {b.id for b, _ in briefs})
    again = write_run(tmp_path / "again", briefs, {b.id for b, _ in briefs})  # the same attempts once more
    out = tmp_path / "p.jsonl"
    args = ["pairs", str(runs), str(again), "--out", str(out), "--rule", "en.superlative", "--json"]
    code, stdout, _ = run(capsys, *args)
    summary = json.loads(stdout)
    assert code == 0 and summary["pairs"] == 6  # the two failures with a superlative, for each of 3 briefs
    assert set(summary["per_rule"]) >= {"en.superlative"}
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    keys = {(json.dumps(r["input"]), r["non_preferred_output"][0]["content"]) for r in rows}
    assert len(rows) == len(keys) == 6 and not any(text.isupper() for _, text in keys)
    code, _, err = run(capsys, "pairs", str(runs), "--out", str(out), "--rule", "no.such_rule")
    assert code == 2 and "no preference pairs" in err and "--rule" in err
    code, _, err = run(capsys, "pairs", str(tmp_path / "missing"), "--out", str(out))
    assert code == 2 and "not a scoring run" in err


def test_validate_reports_every_preference_problem_with_its_line(tmp_path, capsys):
    good = {
        "input": {"messages": [{"role": "user", "content": "Write a push for the card."}]},
        "preferred_output": [{"role": "assistant", "content": "Get 2% back. Apply in the app."}],
        "non_preferred_output": [{"role": "assistant", "content": "BEST CARD EVER!!!"}],
    }
    same = {**good, "non_preferred_output": good["preferred_output"]}
    ends_with_assistant = {**good, "input": {"messages": [*good["input"]["messages"], good["preferred_output"][0]]}}
    two_outputs = {**good, "preferred_output": good["preferred_output"] * 2}
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in (good, same, ends_with_assistant, two_outputs)) + "\n")
    code, out, _ = run(capsys, "validate", str(path), "--provider", "together", "--json")
    report = json.loads(out)
    found = {(i["line"], i["code"]) for i in report["issues"]}
    assert code == 2 and found == {(2, "identical_outputs"), (3, "last_input_not_user"), (4, "bad_preference_output")}
    code, out, _ = run(capsys, "validate", str(path), "--provider", "local", "--json")
    assert "wrong_format" not in {i["code"] for i in json.loads(out)["issues"]}  # the local backend trains DPO


@pytest.mark.parametrize("provider", ["together", "openai"])
def test_estimate_counts_both_outputs_and_uses_dpo_prices(tmp_path, capsys, provider):
    row = {
        "input": {"messages": [{"role": "user", "content": "Write a push message for the Metal card. " * 3}]},
        "preferred_output": [{"role": "assistant", "content": "Earn 4% back on travel. Apply today online."}],
        "non_preferred_output": [{"role": "assistant", "content": "The BEST card ever!!! " * 4}],
    }
    path = tmp_path / "pairs.jsonl"
    path.write_text((json.dumps(row) + "\n") * 12)
    chat = tmp_path / "chat.jsonl"
    chat.write_text((json.dumps({"messages": [*row["input"]["messages"], *row["preferred_output"]]}) + "\n") * 12)
    args = ["estimate", "--provider", provider, "--epochs", "1", "--json"]
    _, out, _ = run(capsys, *args, str(chat))
    sft = json.loads(out)[0]
    _, out, _ = run(capsys, *args, "--method", "dpo", str(path))
    dpo = json.loads(out)[0]
    assert dpo["train_tokens"] > 1.8 * sft["train_tokens"]  # both sequences of every pair
    if provider == "together":
        assert dpo["method"] == "dpo_lora" and dpo["price_per_1m"] != sft["price_per_1m"]
    else:
        assert any("SFT rate" in n for n in dpo["notes"])
