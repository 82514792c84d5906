"""`adsft demo`: the whole pipeline on the embedded default, offline, on a CPU.

Every step that exists runs here, in pipeline order; the README's first command is always `adsft demo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator import render
from orchestrator.checking import check_items, read_messages
from orchestrator.paths import data_dir
from rules import load_pack


@dataclass
class DemoSummary:
    steps: list[tuple[str, str]] = field(default_factory=list)


def run_demo() -> DemoSummary:
    summary = DemoSummary()
    samples = data_dir() / "samples"
    for language in ("ru", "en"):
        render.err.rule(f"check: bundled {language} sample messages against the built-in {language} pack")
        report = check_items(load_pack(language), read_messages(str(samples / f"messages_{language}.jsonl")))
        render.check_report(report)
        total = len(report.results)
        summary.steps.append((f"check {language}", f"{total} messages, {report.failed} with errors"))
    return summary
