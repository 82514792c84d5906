import json

import pytest

from orchestrator.briefs import load_briefs
from orchestrator.cli import main
from orchestrator.dedup import deduplicate
from orchestrator.errors import InputError
from orchestrator.selection import distinct_n, select
from orchestrator.synth import SynthConfig, synthesize
from orchestrator.templates import load_library
from rules import Brief, load_pack
from tests.conftest import catalog_subset


@pytest.fixture(scope="module")
def small_briefs(tmp_path_factory):
    return catalog_subset(tmp_path_factory.mktemp("briefs"), 30)


def run_synth(tmp_path, briefs, **kw):
    config = SynthConfig(out=tmp_path, briefs=briefs, n=kw.pop("n", 150), variants=3, seed=kw.pop("seed", 3), **kw)
    return synthesize(config)


def test_synth_outputs_are_clean_deduplicated_and_brief_disjoint(tmp_path, small_briefs):
    summary = run_synth(tmp_path, small_briefs)
    assert summary.candidates > summary.passed > summary.selected == 150
    assert summary.train + summary.validation == 150 and summary.validation > 0
    briefs = load_briefs(small_briefs)
    packs = {"ru": load_pack("ru"), "en": load_pack("en")}
    meta = [json.loads(x) for x in (tmp_path / "examples.meta.jsonl").read_text().splitlines()]
    texts = []
    for split in ("train", "val"):
        for line, row in zip(
            (m for m in meta if m["split"] == split),
            (tmp_path / f"{split}.jsonl").read_text().splitlines(),
            strict=True,
        ):
            chat = json.loads(row)["messages"]
            assert [m["role"] for m in chat] == ["system", "user", "assistant"]
            brief = briefs[line["brief_id"]]
            assert packs[brief.language].check(chat[-1]["content"], brief).passed
            texts.append(chat[-1]["content"])
    assert len(set(texts)) == len(texts)
    train_briefs = {m["brief_id"] for m in meta if m["split"] == "train"}
    val_briefs = {m["brief_id"] for m in meta if m["split"] == "val"}
    assert not train_briefs & val_briefs
    assert summary.rejected_by_rule  # some candidates break rules, and the summary says which


def test_synth_is_deterministic_with_a_seed_and_any_number_of_workers(tmp_path, small_briefs):
    run_synth(tmp_path / "a", small_briefs, seed=5, workers=1)
    run_synth(tmp_path / "b", small_briefs, seed=5, workers=2)
    for name in ("train.jsonl", "val.jsonl", "examples.meta.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_instruction_format(tmp_path, small_briefs):
    run_synth(tmp_path, small_briefs, n=40, fmt="together-instruction")
    row = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert set(row) == {"prompt", "completion"}


def test_bad_briefs_file_leaves_no_output(tmp_path):
    bad = tmp_path / "briefs.jsonl"
    bad.write_text('{"id": "x", "language": "ru", "channel": "fax", "product": "p", "category": "c"}\n')
    with pytest.raises(InputError) as info:
        run_synth(tmp_path / "out", bad)
    assert "channel" in str(info.value) and ":1" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_synth_cli_json(tmp_path, small_briefs, capsys):
    code = main(
        [
            "synth",
            "--out",
            str(tmp_path),
            "--briefs",
            str(small_briefs),
            "--n",
            "30",
            "--variants",
            "2",
            "--language",
            "en",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["selected"] == 30 and out["balance"]["language"] == {"en": 30}


def test_dedup_exact_and_near():
    texts = [
        "Open a card and earn 3% back on groceries.",
        "open a card and earn 3% back on groceries.",
        "Open a card and earn 3% back on groceries today.",
        "Book a trip to Lisbon from $699 online.",
    ]
    result = deduplicate(texts, threshold=0.7)
    assert result.keep == [0, 3] and result.exact == 1 and result.near == 1


def test_selection_respects_quota_and_beats_random_on_radius():
    brief = Brief(
        id="b",
        language="en",
        channel="push",
        product="Card",
        category="cards",
        attributes={"cashback": "3%", "annual_fee": "$0"},
        cta="Apply",
    )
    library = load_library("en")
    texts = [c.text for c in library.candidates(brief, variants=20)]
    texts = [texts[i] for i in deduplicate(texts, 0.95).keep]
    sel = select(texts, ["s"] * len(texts), [str(i % 7) for i in range(len(texts))], 10, seed=1)
    assert len(sel.indices) == 10
    assert sel.coverage_max <= sel.random_max + 1e-6
    assert distinct_n([texts[i] for i in sel.indices], 2) > 0
