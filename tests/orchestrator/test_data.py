"""The bundled data: catalog, evaluation set, templates."""

from collections import Counter

from orchestrator.briefs import load_briefs, load_eval
from orchestrator.paths import data_dir
from orchestrator.prompting import build_prompt
from orchestrator.templates import load_library


def test_catalog_is_large_and_varied():
    briefs = load_briefs(data_dir() / "briefs" / "catalog.jsonl")
    assert len(briefs) >= 300
    values = list(briefs.values())
    assert {b.language for b in values} == {"ru", "en"}
    banking = {"cards", "deposits", "loans", "mortgages", "insurance", "investments", "travel"}
    shop = {"electronics", "clothing", "groceries", "travel"}
    assert banking | shop <= {b.category for b in values}
    per_product = Counter()
    for b in values:
        per_product[(b.language, b.product)] += 1
    segments = {}
    for b in values:
        segments.setdefault((b.language, b.product), set()).add(b.segment)
    assert all(len(s) >= 2 for s in segments.values())  # several segments each
    assert {b.channel for b in values} == {"push", "sms", "banner", "email_subject", "ad_text"}


def test_eval_set_is_disjoint_and_references_pass(ru, en):
    catalog = load_briefs(data_dir() / "briefs" / "catalog.jsonl")
    evaluation = load_eval(data_dir() / "briefs" / "eval.jsonl")
    assert len(evaluation) >= 100
    catalog_products = {(b.language, b.product) for b in catalog.values()}
    packs = {"ru": ru, "en": en}
    for brief, refs in evaluation:
        assert brief.id not in catalog
        assert (brief.language, brief.product) not in catalog_products
        assert refs
        for ref in refs:
            result = packs[brief.language].check(ref, brief)
            assert result.passed, (brief.id, ref, [(v.rule, v.text) for v in result.errors])


def test_forty_templates_per_language_cover_every_channel():
    for language in ("ru", "en"):
        library = load_library(language)
        assert len(library.templates) >= 40
        structures = {t.spec.structure for t in library.templates}
        assert {"question_hook", "benefit_first", "number_first", "segment_address", "seasonal"} <= structures
        channels = set()
        for t in library.templates:
            channels |= set(t.spec.channels or ["push", "sms", "banner", "email_subject", "ad_text"])
        assert channels == {"push", "sms", "banner", "email_subject", "ad_text"}


def test_prompt_has_system_and_user_and_the_brief_facts(ru):
    brief = next(iter(load_briefs(data_dir() / "briefs" / "catalog.jsonl").values()))
    chat = build_prompt(brief, ru)
    assert [m["role"] for m in chat] == ["system", "user"]
    for value in brief.attributes.values():
        assert str(value) in chat[1]["content"]
    assert "150" in chat[1]["content"] or brief.channel != "push"
