"""Quality floors on the labelled messages (ru and en, clean and with known errors)."""

from collections import Counter

import pytest

from rules import CATEGORIES, Brief, Message

PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.9


def test_labelled_set_is_large_and_covers_every_category(labelled):
    assert len(labelled) >= 200
    assert {r["language"] for r in labelled} == {"ru", "en"}
    seen = {c for r in labelled for c in r["expected"]}
    assert seen == set(CATEGORIES)
    assert sum(not r["expected"] for r in labelled) >= 50  # clean messages too


def test_per_category_precision_and_recall(labelled, ru, en):
    packs = {"ru": ru, "en": en}
    tp, fp, fn = Counter(), Counter(), Counter()
    for r in labelled:
        brief = Brief(**r["brief"]) if "brief" in r else None
        result = packs[r["language"]].check(Message(body=r["text"], channel=r["channel"]), brief)
        got, want = result.categories("error"), set(r["expected"])
        tp.update(got & want)
        fp.update(got - want)
        fn.update(want - got)
    for category in CATEGORIES:
        precision = tp[category] / max(1, tp[category] + fp[category])
        recall = tp[category] / max(1, tp[category] + fn[category])
        assert precision >= PRECISION_FLOOR, (category, precision)
        assert recall >= RECALL_FLOOR, (category, recall)


def test_clean_labelled_messages_pass(labelled, ru, en):
    packs = {"ru": ru, "en": en}
    for r in labelled:
        if not r["expected"]:
            brief = Brief(**r["brief"]) if "brief" in r else None
            result = packs[r["language"]].check(Message(body=r["text"], channel=r["channel"]), brief)
            assert result.passed, (r["id"], [(v.rule, v.text) for v in result.errors])


# Messages written from the style guide (datasets/samples/LABELLING.md) by writers who never saw the
# packs. Each set's figures were taken blind first (README); most were tuned on afterwards, `test6` never
# was (nor is `test8`, measured only in the README). These floors keep what is measured now from sliding back.
SPLIT_FLOORS = {
    "rules_dev": (0.97, 0.95, 0.02),
    "rules_dev2": (0.97, 0.95, 0.02),
    "rules_dev3": (0.97, 0.95, 0.02),
    "rules_dev4": (0.97, 0.95, 0.02),
    "rules_dev5": (0.97, 0.95, 0.01),
    "rules_dev6": (0.95, 0.95, 0.01),
    "rules_test": (0.95, 0.9, 0.02),
    "rules_test2": (0.93, 0.95, 0.02),
    "rules_test3": (0.96, 0.96, 0.01),
    "rules_test4": (0.97, 0.96, 0.01),
    "rules_test5": (0.97, 0.97, 0.01),
    "rules_test6": (0.97, 0.93, 0.01),
    "rules_dev7": (0.97, 0.96, 0.01),
    "rules_test7": (0.97, 0.95, 0.01),
}


@pytest.mark.parametrize("split", sorted(SPLIT_FLOORS))
def test_blind_splits_hold_their_floors(split, ru, en):
    from pathlib import Path

    from orchestrator.checking import read_labelled
    from rules.evaluate import evaluate

    path = Path(__file__).resolve().parents[2] / "datasets" / "samples" / f"{split}.jsonl"
    scores = evaluate(read_labelled([str(path)]), {"ru": ru, "en": en}.__getitem__)
    overall = scores.overall()
    precision, recall, blocked = SPLIT_FLOORS[split]
    assert overall["messages"] >= 150 and overall["clean"] >= 50
    assert overall["precision"] >= precision, overall
    assert overall["recall"] >= recall, overall
    assert overall["clean_blocked"] <= blocked, overall
