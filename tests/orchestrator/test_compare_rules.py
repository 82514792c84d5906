"""What a comparison tells a marketing lead: rules fixed with CIs, fine-tuned models priced, real chart points,
reference metrics on the same messages for both runs."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.compare import compare
from orchestrator.ledger import Ledger
from orchestrator.paths import home
from orchestrator.runs import fine_tuned_base, summarize
from tests.orchestrator.test_score import CLEAN, eval_file, score, server  # noqa: F401  (fixtures)

SHOUTING = "The BEST deal ever!!!"


def _two_runs(server, eval_file, tmp_path, capsys, *extra) -> tuple[Path, Path]:  # noqa: F811
    server.completion_text = SHOUTING
    score(capsys, eval_file, tmp_path / "a", "--label", "base", *extra)
    server.completion_text = CLEAN
    score(capsys, eval_file, tmp_path / "b", "--label", "tuned", *extra)
    return tmp_path / "a", tmp_path / "b"


def test_rules_the_change_fixed_come_with_their_cis(server, eval_file, tmp_path, capsys):  # noqa: F811
    a, b = _two_runs(server, eval_file, tmp_path, capsys)
    code = main(["compare", str(a), str(b), "--out", str(tmp_path / "report"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["rules"]
    by_rule = {d["metric"]: d for d in data["rules"]}
    # the capitals rule fired on the first attempt of both English briefs of the base, never on tuned
    shouted = [by_rule["en.caps"]]
    assert shouted[0]["a"] == 0.5 and shouted[0]["b"] == 0.0
    assert all(d["difference"] == -0.5 and d["ci_high"] <= 0 for d in shouted)
    # four briefs cannot make a two-sided sign-flip test significant (its smallest p is 2/16)
    assert all(d["verdict"].startswith("no significant difference") for d in shouted)
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert 'id="rule-differences"' in html and shouted[0]["metric"] in html
    assert f"first attempt broke {shouted[0]['metric']}" in (tmp_path / "report" / "report.csv").read_text()


def test_reference_metrics_use_every_brief_final_attempt(server, eval_file, tmp_path, capsys):  # noqa: F811
    a, _ = _two_runs(server, eval_file, tmp_path, capsys)
    s = summarize(a)
    assert s.pass_at_k == 0.0 and s.reference["count"] == s.briefs == 4  # nothing accepted, still measured


def test_cost_chart_draws_only_priced_runs(server, eval_file, tmp_path, capsys):  # noqa: F811
    a, b = _two_runs(server, eval_file, tmp_path, capsys)
    comparison = compare(a, b)
    assert comparison.a.cost_per_brief_usd > 0 and comparison.b.cost_per_brief_usd > 0
    from orchestrator.report import write_report

    html = write_report(comparison, tmp_path / "r")["html"].read_text(encoding="utf-8")
    assert html.count("<circle") == 2 and "cost per brief (USD)" in html


def test_fine_tuned_models_are_priced_from_their_base(server, eval_file, tmp_path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ADSFT_HOME", str(tmp_path / "home"))
    assert fine_tuned_base("openai", "ft:gpt-4o-mini-2024-07-18:acme:spring:9xYz") == "gpt-4o-mini-2024-07-18"
    assert fine_tuned_base("together", "acme/Meta-Llama-3.1-8B-Instruct-Reference-spring-1a2b") is None
    assert not (home() / "ledger.sqlite").exists()  # asking never creates a ledger
    ledger = Ledger()
    base = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    job = ledger.job_intent("together", base, {}, "key-1", None, None, None)
    ledger.update_job(job.id, result_model="acme/Meta-Llama-3.1-8B-Instruct-Reference-spring-1a2b")
    ledger.close()
    assert fine_tuned_base("together", "acme/Meta-Llama-3.1-8B-Instruct-Reference-spring-1a2b") == base
    # an OpenAI fine-tune's run is priced at the fine-tuned inference rate of its base
    server.completion_text = CLEAN
    run = tmp_path / "ft"
    model = "ft:gpt-4o-mini-2024-07-18:acme:spring:9xYz"
    code = main(
        ["score", "--provider", "openai", "--model", model, "--eval", str(eval_file), "--run", str(run), "--k", "1"]
    )
    capsys.readouterr()
    s = summarize(run)
    assert code == 0 and s.cost_per_brief_usd is not None and s.cost_per_brief_usd > 0


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no Chromium here")
def test_report_screenshot_in_headless_chromium(server, eval_file, tmp_path, capsys):  # noqa: F811
    from orchestrator.report import write_report

    a, b = _two_runs(server, eval_file, tmp_path, capsys)
    page = write_report(compare(a, b), tmp_path / "r", "tuned better")["html"]
    shot = tmp_path / "report.png"
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    quiet = ("--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync")
    size = "--window-size=1000,2400"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", *quiet, size, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one
