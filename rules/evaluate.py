"""How well packs judge labelled messages: precision and recall per category, and clean messages blocked.

A labelled message is a JSON object with the message (``text``, or ``title``/``body``/``cta``), its
``language`` and ``channel``, an optional ``brief`` and ``expected``: the error categories a careful
editor says it breaks (``[]`` when clean). A category counts once per message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rules.brief import Brief
from rules.model import CATEGORIES, Message
from rules.pack import RulePack


@dataclass
class Scores:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    clean: int = 0
    clean_blocked: int = 0
    misjudged: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def _ratio(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    def category(self, name: str) -> dict[str, Any]:
        tp, fp, fn = self.tp[name], self.fp[name], self.fn[name]
        return {
            "category": name,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": self._ratio(tp, tp + fp),
            "recall": self._ratio(tp, tp + fn),
        }

    def overall(self) -> dict[str, Any]:
        tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        return {
            "messages": self.messages,
            "clean": self.clean,
            "precision": self._ratio(tp, tp + fp),
            "recall": self._ratio(tp, tp + fn),
            "clean_blocked": self._ratio(self.clean_blocked, self.clean),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }

    def as_dict(self) -> dict[str, Any]:
        seen = [c for c in CATEGORIES if self.tp[c] or self.fp[c] or self.fn[c]]
        return {"overall": self.overall(), "categories": [self.category(c) for c in seen]}


def evaluate(records: Iterable[dict[str, Any]], pack_for: Callable[[str], RulePack]) -> Scores:
    """Score packs (chosen by each record's language) on labelled records."""
    scores = Scores()
    for r in records:
        brief = Brief(**r["brief"]) if r.get("brief") else None
        result = pack_for(r["language"]).check(Message.of(r), brief)
        got, want = result.categories("error"), set(r["expected"])
        scores.messages += 1
        scores.tp.update(got & want)
        scores.fp.update(got - want)
        scores.fn.update(want - got)
        if not want:
            scores.clean += 1
            scores.clean_blocked += bool(got)
        if got != want:
            scores.misjudged.append(
                {
                    "id": r.get("id"),
                    "missed": sorted(want - got),
                    "extra": sorted(got - want),
                    "violations": [(v.rule, v.text) for v in result.errors],
                }
            )
    return scores
