"""Scoring by regeneration count, comparison and the report, against the fake OpenAI-compatible server."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.metrics import reference_metrics
from orchestrator.runs import pass_at_k, summarize
from tests.fakecloud import FakeCloud

CLEAN_RU = "Откройте вклад онлайн."
CLEAN = "Open an account today."


@pytest.fixture
def server(monkeypatch):
    cloud = FakeCloud("openai").start()
    monkeypatch.setenv("OPENAI_BASE_URL", cloud.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-score-test")
    yield cloud
    cloud.stop()


@pytest.fixture
def eval_file(tmp_path):
    rows = []
    for i, (lang, ref) in enumerate(
        [
            ("en", "Open an account today."),
            ("en", "Open an account in the app."),
            ("ru", "Откройте вклад онлайн."),
            ("ru", "Откройте вклад в приложении."),
        ]
    ):
        brief = {"id": f"b{i}", "language": lang, "channel": "push", "product": "Account", "category": "deposits"}
        rows.append(json.dumps({"brief": brief, "references": [ref]}, ensure_ascii=False))
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def score(capsys, eval_file, run, *extra):
    code = main(
        [
            "score",
            "--provider",
            "openai",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--eval",
            str(eval_file),
            "--run",
            str(run),
            "--k",
            "3",
            "--json",
            *extra,
        ]
    )
    return code, capsys.readouterr()


def test_failing_model_hits_the_cap_and_resume_makes_no_new_requests(server, eval_file, tmp_path, capsys):
    server.completion_text = "The BEST deal ever!!! {name}"
    code, out = score(capsys, eval_file, tmp_path / "run")
    summary = json.loads(out.out)
    assert code == 0 and summary["mean_regenerations"] == 3 and summary["failed_share"] == 1.0
    assert summary["attempts"] == 12 and summary["rule_failure_rate"]
    assert summary["category_failure_rate"]["superlative"] == pytest.approx(0.5)  # English briefs only
    before = server.count("POST", "/chat/completions")
    score(capsys, eval_file, tmp_path / "run")
    assert server.count("POST", "/chat/completions") == before


def test_clean_model_passes_first_time_and_is_priced(server, eval_file, tmp_path, capsys):
    server.completion_text = CLEAN
    _code, out = score(capsys, eval_file, tmp_path / "run", "--label", "clean")
    summary = json.loads(out.out)
    # the English briefs pass; the Russian ones fail as "wrong language" (an English answer)
    assert summary["pass_at_1"] == 0.5 and summary["bad_outputs"] == {"wrong language": 6}
    assert summary["cost_per_accepted_usd"] > 0 and summary["reference"]["bleu"] is not None


def test_feedback_mode_sends_the_violations_back(server, eval_file, tmp_path, capsys):
    server.completion_text = "The BEST deal ever!!!"
    score(capsys, eval_file, tmp_path / "run", "--mode", "feedback")
    bodies = [json.loads(b) for b in server.bodies if b.startswith(b"{") and b'"messages"' in b]
    last = bodies[-1]["messages"]
    assert last[-1]["role"] == "user" and ("rules" in last[-1]["content"] or "правила" in last[-1]["content"])
    assert any(m["role"] == "assistant" for m in last)


def test_provider_errors_are_recorded_not_dropped(server, eval_file, tmp_path, capsys):
    server.fault("POST", "/chat/completions", "500", times=1000)
    code, out = score(capsys, eval_file, tmp_path / "run")
    summary = json.loads(out.out)
    assert code == 0 and summary["bad_outputs"] == {"provider error": 12}


def test_samples_mode_gives_unbiased_pass_at_k(server, eval_file, tmp_path, capsys):
    server.completion_text = CLEAN
    _code, out = score(capsys, eval_file, tmp_path / "run", "--samples", "3")
    summary = json.loads(out.out)
    assert summary["pass_at_k_unbiased"]["pass@1"] == 0.5 and summary["attempts"] == 12
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3) and pass_at_k(5, 0, 2) == 0.0


class _Charts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures, self.svgs, self.tables = [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag == "figure":
            self.figures.append(dict(attrs).get("id"))
        self.svgs += tag == "svg"
        self.tables += tag == "table"


def test_compare_verdict_and_report(server, eval_file, tmp_path, capsys):
    server.completion_text = "The BEST deal ever!!!"
    score(capsys, eval_file, tmp_path / "a", "--label", "base")
    server.completion_text = CLEAN
    score(capsys, eval_file, tmp_path / "b", "--label", "tuned")
    code = main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "report"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["paired_briefs"] == 4
    regen = next(d for d in data["differences"] if d["metric"] == "mean regenerations")
    assert regen["difference"] < 0 and regen["ci_high"] <= 0
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    parser = _Charts()
    parser.feed(html)
    assert parser.figures == ["chart-regenerations", "chart-rules", "chart-cost"] and parser.svgs == 3
    assert (tmp_path / "report" / "report.csv").read_text().startswith("metric,")
    assert "| metric" in (tmp_path / "report" / "report.md").read_text()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:  # render it for real and read the DOM back
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--dump-dom",
                (tmp_path / "report" / "report.html").as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert dom.count("<svg") == 3 and "chart-cost" in dom


def test_reference_metrics_see_cyrillic():
    metrics = reference_metrics(["Откройте вклад онлайн."], [["Откройте вклад в приложении."]])
    assert metrics["rouge1"] > 0 and metrics["meteor_exact_stem"] > 0 and metrics["chrf"] > 0


def test_summarize_rejects_a_folder_that_is_not_a_run(tmp_path):
    from orchestrator.errors import InputError

    with pytest.raises(InputError):
        summarize(Path(tmp_path))


def test_rate_limits_space_the_requests(server, eval_file, tmp_path, capsys):
    import time

    server.completion_text = CLEAN
    start = time.perf_counter()
    score(capsys, eval_file, tmp_path / "rpm", "--rpm", "240", "--k", "1")  # 4 requests, one every 0.25 s
    assert time.perf_counter() - start >= 0.7
    start = time.perf_counter()
    # 600 tokens a minute = 10 a second; each request asks for well over 100 (prompt estimate + 120)
    score(capsys, eval_file, tmp_path / "tpm", "--tpm", "600", "--k", "1")
    assert time.perf_counter() - start >= 2.0


def test_compare_refuses_runs_that_are_not_comparable(server, eval_file, tmp_path, capsys):
    server.completion_text = CLEAN
    score(capsys, eval_file, tmp_path / "a", "--label", "base")
    score(capsys, eval_file, tmp_path / "b", "--label", "tuned", "--k", "2")
    code = main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 2 and "not comparable" in err and "k: 3 vs 2" in err


def test_report_leads_with_the_summary_and_shows_examples(server, eval_file, tmp_path, capsys):
    from orchestrator.compare import compare
    from orchestrator.report import write_report

    server.completion_text = CLEAN
    score(capsys, eval_file, tmp_path / "a", "--label", "base")
    score(capsys, eval_file, tmp_path / "b", "--label", "tuned")
    examples = [{"brief": "b1", "base": "Old text", "base_passed": False, "tuned": "New text", "tuned_passed": True}]
    paths = write_report(compare(tmp_path / "a", tmp_path / "b"), tmp_path / "r", "neither model is usable", examples)
    html = paths["html"].read_text(encoding="utf-8")
    assert html.index("neither model is usable") < html.index('id="verdict"')
    assert "New text" in html and 'id="examples"' in html


def test_a_torn_last_line_is_dropped_and_only_that_attempt_is_asked_again(server, eval_file, tmp_path, capsys):
    server.completion_text = "The BEST deal ever!!!"
    score(capsys, eval_file, tmp_path / "run")
    attempts = tmp_path / "run" / "attempts.jsonl"
    data = attempts.read_bytes()
    attempts.write_bytes(data[:-15])  # the process died while writing its last attempt
    before = server.count("POST", "/chat/completions")
    code, out = score(capsys, eval_file, tmp_path / "run")
    assert code == 0 and server.count("POST", "/chat/completions") == before + 1
    lines = attempts.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12 and all(json.loads(line)["brief_id"] for line in lines)
    assert json.loads(out.out)["attempts"] == 12


def test_together_scores_on_its_asyncio_client(eval_file, tmp_path, capsys, monkeypatch):
    cloud = FakeCloud("together").start()
    try:
        monkeypatch.setenv("TOGETHER_BASE_URL", cloud.base_url)
        monkeypatch.setenv("TOGETHER_API_KEY", "together-score-test")
        cloud.completion_text = CLEAN
        model = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
        run = str(tmp_path / "run")
        args = ["--eval", str(eval_file), "--run", run, "--k", "2", "--json"]
        code = main(["score", "--provider", "together", "--model", model, *args])
        out = capsys.readouterr()
        assert code == 0, out.err
        summary = json.loads(out.out)
        assert code == 0 and summary["pass_at_1"] == 0.5 and summary["attempts"] == 6
        assert cloud.count("POST", "/chat/completions") == 6
    finally:
        cloud.stop()
