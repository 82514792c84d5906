"""A local model as the teacher: batched generation on this machine, no bill, so no confirmation."""

import json

from orchestrator.briefs import load_briefs
from orchestrator.cli import main
from orchestrator.paths import data_dir


def test_local_teacher_runs_without_a_yes(tmp_path, micro_model, capsys):
    briefs = [b for b in load_briefs(data_dir() / "briefs" / "catalog.jsonl").values() if b.language == "en"][:4]
    path = tmp_path / "briefs.jsonl"
    path.write_text("".join(b.model_dump_json() + "\n" for b in briefs), encoding="utf-8")
    args = ["synth", "--out", str(tmp_path / "out"), "--briefs", str(path), "--n", "8", "--variants", "1"]
    teacher = ["--teacher", f"local:{micro_model}", "--teacher-k", "2", "--teacher-max-tokens", "24"]
    code = main([*args, *teacher, "--json"])
    assert code == 0
    captured = capsys.readouterr()
    teacher = json.loads(captured.out)["teacher"]
    assert teacher["requested"] == teacher["received"] == 8 and teacher["failed"] == 0
    assert teacher["estimate"]["billed"] is False and teacher["estimate"]["usd"] is None
    assert "no per-token bill" in captured.err
    rows = (tmp_path / "out" / "teacher.jsonl").read_text().splitlines()
    assert len(rows) == 8 and all(json.loads(r)["teacher"] == f"local:{micro_model}" for r in rows)
