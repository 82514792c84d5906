import json
import subprocess
import sys

from orchestrator.cli import main
from tests.conftest import SAMPLES


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_json_one_object_per_message(capsys):
    code, out, _ = run(capsys, "check", str(SAMPLES / "messages_ru.jsonl"), "--pack", "ru", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # the samples hold known errors
    assert {"id", "passed", "violations"} <= set(lines[0])
    assert any(line["passed"] for line in lines) and any(not line["passed"] for line in lines)
    v = next(v for line in lines for v in line["violations"])
    assert set(v) >= {"rule", "category", "level", "start", "end", "text", "message"}


def test_check_clean_input_exits_zero(tmp_path, capsys):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "1", "text": "Open a card and earn 3% back on groceries."}\n', encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path), "--pack", "en")
    assert code == 0 and "1 passed" in out


def test_check_csv_with_text_column(tmp_path, capsys):
    path = tmp_path / "m.csv"
    path.write_text("id,text\n1,Hurry and apply now.\n2,Open a card today.\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path), "--pack", "en", "--json")
    assert code == 1
    assert [json.loads(line)["passed"] for line in out.splitlines()] == [False, True]


def test_bad_lines_reported_at_once_with_exit_2(tmp_path, capsys):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": 1, "text": "ok text here"}\nnot json\n{"id": 3, "txt": "x"}\n', encoding="utf-8")
    code, out, err = run(capsys, "check", str(path), "--json")
    assert code == 2 and out == ""
    assert f"{path}:2" in err and f"{path}:3" in err and "Traceback" not in err


def test_briefs_lookup(tmp_path, capsys):
    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text(
        json.dumps(
            {
                "id": "c1",
                "language": "en",
                "channel": "push",
                "product": "Card",
                "category": "cards",
                "attributes": {"cashback": "3%"},
            }
        )
        + "\n"
    )
    msgs = tmp_path / "m.jsonl"
    msgs.write_text('{"id": "1", "text": "Earn 5% back. Apply now.", "brief_id": "c1"}\n')
    code, out, _ = run(capsys, "check", str(msgs), "--pack", "en", "--briefs", str(briefs), "--json")
    assert code == 1
    assert json.loads(out)["violations"][0]["category"] == "fact_mismatch"


def test_brief_with_unknown_field_is_named(tmp_path, capsys):
    briefs = tmp_path / "briefs.jsonl"
    briefs.write_text(
        '{"id": "c1", "language": "en", "channel": "push", "product": "Card", "category": "cards", "colour": "red"}\n'
    )
    msgs = tmp_path / "m.jsonl"
    msgs.write_text('{"id": "1", "text": "Apply now for a card.", "brief_id": "c1"}\n')
    code, _, err = run(capsys, "check", str(msgs), "--briefs", str(briefs))
    assert code == 2 and "colour" in err and ":1" in err


def test_rules_commands(capsys):
    code, out, _ = run(capsys, "rules", "list", "en", "--json")
    assert code == 0 and any(r["id"] == "en.cta" for r in json.loads(out))
    code, out, _ = run(capsys, "rules", "show", "ru.caps", "--json")
    assert code == 0 and json.loads(out)["type"] == "case"
    code, out, _ = run(capsys, "rules", "test", "ru", "--json")
    assert code == 0 and json.loads(out)["failed"] == []


def test_rules_test_fails_on_a_broken_example(tmp_path, capsys):
    pack = tmp_path / "p.yaml"
    pack.write_text("""pack: {id: t, language: en}
rules:
  - id: t.a
    type: lexicon
    category: cliche
    message: x
    entries: [synergy]
    examples: {match: ["nothing here"]}
""")
    code, out, _ = run(capsys, "rules", "test", str(pack))
    assert code == 1 and "t.a" in out


def test_console_script_from_stdin():
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "check", "-", "--pack", "en", "--json"],
        input='{"id": "x", "text": "The best card ever!!! Apply."}\n',
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "superlative" in proc.stdout


def test_check_picks_the_pack_by_brief_or_text_language(tmp_path, capsys):
    path = tmp_path / "m.jsonl"
    brief = {"id": "b", "language": "en", "channel": "push", "product": "Card", "category": "cards"}
    rows = [
        {"id": "ru", "text": "Оформите карту и получайте кэшбэк на такси."},
        {"id": "en", "text": "Open a card and earn cashback on taxis."},
        {"id": "brief", "text": "Open a card and earn cashback on taxis.", "brief": brief},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path), "--json")
    assert code == 0, out  # each is clean in its own language; checked with the other pack it would not be
    assert [json.loads(line)["passed"] for line in out.splitlines()] == [True, True, True]


def test_rules_eval_prints_precision_recall_and_clean_blocked(tmp_path, capsys):
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"id": "1", "language": "en", "channel": "push", "text": "Open a card today.", "expected": []},
        {
            "id": "2",
            "language": "en",
            "channel": "push",
            "text": "The best card ever. Apply now.",
            "expected": ["superlative"],
        },
        {"id": "3", "language": "en", "channel": "push", "text": "A card for taxis and food.", "expected": []},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, _ = run(capsys, "rules", "eval", str(path), "--json", "--show")
    data = json.loads(out)
    assert code == 0
    assert data["overall"]["messages"] == 3 and data["overall"]["clean"] == 2
    assert data["overall"]["clean_blocked"] == 0.5  # message 3 has no call to action
    assert [m["id"] for m in data["misjudged"]] == ["3"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "x"}\nnot json\n', encoding="utf-8")
    code, _, err = run(capsys, "rules", "eval", str(bad))
    assert code == 2 and "bad.jsonl:1" in err and "bad.jsonl:2" in err


def test_check_with_workers_gives_the_same_lines_in_the_same_order(tmp_path, capsys, monkeypatch):
    import orchestrator.parallel_check as parallel

    monkeypatch.setattr(parallel, "PER_WORKER", 50)  # this small input still goes to two processes
    monkeypatch.setattr(parallel, "CHUNK", 16)
    rows = []
    for name in ("messages_ru.jsonl", "messages_en.jsonl"):
        rows += [json.loads(line) for line in (SAMPLES / name).read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(json.dumps({**r, "id": f"{i}"}, ensure_ascii=False) + "\n" for i, r in enumerate(rows * 2)),
        encoding="utf-8",
    )
    assert parallel.workers_for(2, len(rows) * 2) == 2
    code_one, one, _ = run(capsys, "check", str(path), "--json", "--workers", "1")
    code_two, two, _ = run(capsys, "check", str(path), "--json", "--workers", "2")
    assert code_one == code_two == 1
    assert one == two
    assert [json.loads(line)["id"] for line in two.splitlines()] == [str(i) for i in range(len(rows) * 2)]


def test_workers_default_to_the_cores_but_not_for_a_small_input():
    from orchestrator.parallel_check import PER_WORKER, available_cores, workers_for

    assert workers_for(None, 10) == 1
    assert workers_for(None, PER_WORKER * 64) == min(64, available_cores())
    assert workers_for(3, PER_WORKER * 64) == 3


def test_check_imports_no_heavy_library():
    message = json.dumps({"text": "Оформите карту сегодня."}, ensure_ascii=False) + "\n"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orchestrator.cli", "check", "-", "--json"],
        input=message,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "rules" in imported and "pymorphy3" in imported
    assert imported.isdisjoint({"pandas", "torch", "transformers", "numpy", "openai", "together"})


def test_spawned_workers_give_the_same_results(monkeypatch):
    import multiprocessing

    import orchestrator.parallel_check as parallel
    from orchestrator.checking import read_messages
    from rules import load_pack

    items = read_messages(str(SAMPLES / "messages_en.jsonl"))
    pack = load_pack("en")
    monkeypatch.setattr(parallel, "CHUNK", 20)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    two = list(parallel.json_stream(pack, items, 2))
    one = list(parallel.json_stream(pack, items, 1))
    assert two == one and len(one) == len(items)


def test_check_loads_no_model_or_network_library():
    """`adsft check` starts fast: nothing of the training, data-frame or SDK stacks is imported, and no
    provider's module (the registry is not asked)."""
    script = (
        "import sys; sys.argv = ['adsft', 'check', '-', '--json']\n"
        "from orchestrator.cli import main\n"
        "code = main()\n"
        "heavy = ('torch', 'transformers', 'peft', 'pandas', 'numpy', 'openai', 'together', 'aiohttp', 'httpx',\n"
        "         'providers.base', 'providers.local', 'providers.openai', 'rich.progress')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input='{"text": "Откройте вклад сегодня."}\n', capture_output=True, text=True
    )
    assert done.stdout.strip() and done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_messages_of_one_brief_share_it_and_briefs_that_differ_only_in_type_do_not(tmp_path):
    """Briefs are interned by their content as JSON read it: 1, 1.0 and true are three briefs, and the
    collector is running again once the input is read."""
    import gc

    from orchestrator.checking import read_messages

    def line(i: int, limit: object) -> str:
        brief = {"id": "b", "language": "en", "channel": "push", "product": "Card", "category": "card"}
        return json.dumps({"id": str(i), "text": "Open a card.", "brief": {**brief, "attributes": {"limit": limit}}})

    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(line(i, v) for i, v in enumerate([1, 1, 1.0, True, 1.0])) + "\n", encoding="utf-8")
    briefs = [item.brief for item in read_messages(str(path))]
    assert briefs[0] is briefs[1] and briefs[2] is briefs[4]
    assert len({id(b) for b in briefs}) == 3
    assert [b.attributes["limit"] for b in briefs] == [1, 1, 1.0, True, 1.0]
    assert gc.isenabled()
