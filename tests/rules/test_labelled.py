"""Quality floors on the labelled messages (ru and en, clean and with known errors)."""

from collections import Counter

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
