"""`adsft synth --teacher`: a model behind an OpenAI-compatible endpoint (the fake server on 127.0.0.1, through
the real SDK) writes a share of the examples; estimate and confirmation first, replies cached and resumed."""

import json
import signal
import threading
from collections import defaultdict

import pytest

from orchestrator import tokens
from orchestrator.briefs import load_briefs
from orchestrator.cli import main
from orchestrator.plans import load_generator
from orchestrator.prompting import build_prompt
from orchestrator.quality import judge, sanity_pack
from orchestrator.teacher import CACHE_FILE, parse_teacher, tidy_reply
from rules import load_pack
from tests.conftest import catalog_subset
from tests.fakecloud import FakeCloud

K = 3


@pytest.fixture(scope="module")
def briefs_file(tmp_path_factory):
    return catalog_subset(tmp_path_factory.mktemp("briefs"), 10)


@pytest.fixture(scope="module")
def writer(briefs_file):
    """A teacher that writes clean messages for each brief (the plans' output that passes every check, so
    the test knows them) except its second sample, which is shouted in capitals and must be rejected."""
    texts: dict[str, list[str]] = {}
    for brief in load_briefs(briefs_file).values():
        pack, sanity = load_pack(brief.language), sanity_pack(brief.language)
        clean = [
            c.text
            for c in load_generator(brief.language).candidates(brief, 60, seed=11)
            if judge(c.text, brief, pack, sanity).clean
        ]
        user = build_prompt(brief, pack)[-1]["content"]
        texts[user] = sorted(set(clean))
    served: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def reply(req: dict) -> str:
        user = next(m["content"] for m in req["messages"] if m["role"] == "user")
        with lock:
            i = served[user]
            served[user] += 1
        text = texts[user][i % len(texts[user])]
        return text.upper() if i % K == 1 else text

    return reply, served


@pytest.fixture
def cloud(monkeypatch, writer):
    reply, served = writer
    served.clear()
    server = FakeCloud("openai").start()
    server.completion_fn = reply
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-teacher")
    yield server
    server.stop()


def synth(out, briefs_file, *extra):
    args = ["synth", "--out", str(out), "--briefs", str(briefs_file), "--n", "40", "--variants", "1"]
    return main([*args, "--teacher", "openai:gpt-4.1-mini", "--teacher-k", str(K), *extra, "--json"])


def test_billed_teacher_needs_a_yes_and_asks_nothing_without_it(tmp_path, briefs_file, cloud, capsys):
    assert synth(tmp_path, briefs_file) == 2
    err = capsys.readouterr().err
    assert "--yes" in err and "60 requests for 20 briefs" in err and "$" in err
    assert cloud.count("POST", "/chat/completions") == 0
    assert not (tmp_path / CACHE_FILE).exists() and not (tmp_path / "train.jsonl").exists()


def test_teacher_share_of_clean_replies_and_exact_estimate(tmp_path, briefs_file, cloud, capsys):
    assert synth(tmp_path, briefs_file, "--teacher-share", "0.5", "--yes") == 0
    out = json.loads(capsys.readouterr().out)
    teacher = out["teacher"]
    assert cloud.count("POST", "/chat/completions") == teacher["requested"] == teacher["received"] == 60
    # the shouted sample of each brief is rejected; the two others pass
    assert teacher["clean"] <= 40 and teacher["selected"] == 20 and out["selected"] == 40
    est = teacher["estimate"]
    counter = tokens.resolve("gpt-4.1-mini")
    packs = {"ru": load_pack("ru"), "en": load_pack("en")}
    expected = sum(counter.count_chat(build_prompt(b, packs[b.language])) for b in load_briefs(briefs_file).values())
    assert est["prompt_tokens"] == K * expected and est["tokens_exact"]
    assert 0 < est["usd"] <= est["usd_max"]
    assert est["output_tokens_max"] == 60 * 200
    meta = [json.loads(x) for x in (tmp_path / "examples.meta.jsonl").read_text().splitlines()]
    assert sum(m["template"] == "teacher:openai:gpt-4.1-mini" for m in meta) == 20
    briefs = load_briefs(briefs_file)
    for split in ("train", "val"):
        for row in (tmp_path / f"{split}.jsonl").read_text().splitlines():
            chat = json.loads(row)["messages"]
            assert chat[-1]["content"] != chat[-1]["content"].upper()  # no shouted reply was kept
    assert all(m["brief_id"] in briefs for m in meta)


def test_rerun_asks_only_for_what_is_missing(tmp_path, briefs_file, cloud, capsys):
    assert synth(tmp_path, briefs_file, "--teacher-k", "2", "--yes") == 0
    first = json.loads(capsys.readouterr().out)["teacher"]
    assert first["requested"] == 40 and cloud.count("POST", "/chat/completions") == 40
    with (tmp_path / CACHE_FILE).open("a", encoding="utf-8") as f:
        f.write('{"teacher": "openai:gpt-4.1-mini", "brief_id": "x", "prom')  # a torn last line
    assert synth(tmp_path, briefs_file, "--yes") == 0  # K = 3 now: one more per brief
    again = json.loads(capsys.readouterr().out)["teacher"]
    assert again["requested"] == 20 and again["from_cache"] == 40
    assert cloud.count("POST", "/chat/completions") == 60
    assert synth(tmp_path, briefs_file) == 0  # all cached: nothing to confirm, nothing asked
    last = json.loads(capsys.readouterr().out)["teacher"]
    assert last["requested"] == 0 and cloud.count("POST", "/chat/completions") == 60


def test_failing_teacher_stops_early_and_keeps_its_replies(tmp_path, briefs_file, cloud, capsys):
    cloud.fault("POST", "/chat/completions", "malformed", times=10_000)
    code = synth(tmp_path, briefs_file, "--yes", "--teacher-concurrency", "2")
    err = capsys.readouterr().err
    assert code == 1 and "run the same command again" in err
    assert cloud.count("POST", "/chat/completions") < 60  # it stopped before asking everything
    cloud.faults.clear()
    assert synth(tmp_path, briefs_file, "--yes") == 0
    assert json.loads(capsys.readouterr().out)["teacher"]["received"] == 60


def test_refused_request_stops_at_once(tmp_path, briefs_file, cloud, capsys):
    cloud.fault("POST", "/chat/completions", "403_training_not_available", times=10_000)
    code = synth(tmp_path, briefs_file, "--yes", "--teacher-concurrency", "1")
    assert code in (1, 2) and cloud.count("POST", "/chat/completions") <= 2
    assert "Traceback" not in capsys.readouterr().err


def test_unknown_model_is_estimated_approximately_and_unpriced(tmp_path, briefs_file, cloud, capsys):
    args = ["synth", "--out", str(tmp_path), "--briefs", str(briefs_file), "--n", "20", "--variants", "1"]
    assert main([*args, "--teacher", "openai:mistral-small", "--teacher-k", "1", "--yes", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)["teacher"]["estimate"]
    assert est["usd"] is None and not est["tokens_exact"] and "o200k_base" in est["note"]
    assert "no inference price" in est["note"]


@pytest.mark.parametrize(
    ("spec", "option", "expected"),
    [
        ("openai:gpt-4.1-mini", None, ("openai", "gpt-4.1-mini")),
        ("gpt-4.1-mini", "together", ("together", "gpt-4.1-mini")),
        ("openai:ft:gpt-4o-mini-2024-07-18:org::abc", None, ("openai", "ft:gpt-4o-mini-2024-07-18:org::abc")),
        ("ft:gpt-4o-mini-2024-07-18:org::abc", "openai", ("openai", "ft:gpt-4o-mini-2024-07-18:org::abc")),
    ],
)
def test_teacher_spec(spec, option, expected):
    assert parse_teacher(spec, option) == expected


@pytest.mark.parametrize(
    "extra",
    [
        ["--teacher-share", "1.5"],
        ["--teacher-k", "0"],
        ["--provider", "together"],  # conflicts with the spec's provider
        ["--teacher-max-tokens", "2"],
        ["--teacher", "opnai:gpt-4.1-mini"],  # a misspelt provider
    ],
)
def test_bad_teacher_options_exit_2_before_any_request(tmp_path, briefs_file, cloud, extra, capsys):
    assert synth(tmp_path, briefs_file, *extra, "--yes") == 2
    assert cloud.count("POST", "/chat/completions") == 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ('"Open a deposit today."', "Open a deposit today."),
        ("«Откройте вклад сегодня.»", "Откройте вклад сегодня."),
        ("  Open\\n a  deposit. ", "Open a deposit."),
        ('"Say "yes" to savings"', '"Say "yes" to savings"'),  # inner quotes: not a wrapped reply
    ],
)
def test_replies_lose_wrapping_quotes_only(reply, message):
    assert tidy_reply(reply.replace("\\n", "\n")) == message


def test_interrupt_sends_no_queued_request_and_keeps_the_replies(tmp_path, briefs_file, cloud, writer, capsys):
    reply, _ = writer
    main_thread = threading.main_thread().ident

    fired = threading.Event()

    def interrupting(req: dict) -> str:
        if cloud.count("POST", "/chat/completions") >= 5 and not fired.is_set():
            fired.set()
            signal.pthread_kill(main_thread, signal.SIGINT)  # Ctrl-C while the teacher waits on its requests
        return reply(req)

    cloud.completion_fn = interrupting
    # Ctrl-C as a terminal's user has it: Python's handler, the signal not blocked (whatever ran before)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        code = synth(tmp_path, briefs_file, "--yes", "--teacher-concurrency", "2")
    finally:
        signal.signal(signal.SIGINT, before)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    assert code == 130, f"SIGINT handler before the test: {before!r}, blocked: {mask!r}"
    asked = cloud.count("POST", "/chat/completions")
    assert fired.is_set() and asked <= 8  # the ones in flight finish; none of the other 50-odd is sent
    kept = len((tmp_path / CACHE_FILE).read_text().splitlines())
    assert kept >= 4
    cloud.completion_fn = reply
    assert synth(tmp_path, briefs_file, "--yes") == 0
    assert json.loads(capsys.readouterr().out)["teacher"]["requested"] == 60 - kept
