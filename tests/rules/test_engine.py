from pathlib import Path

import pytest

from rules import Brief, Message, load_pack
from rules.errors import PackError
from rules.loader import builtin_packs


def brief(**attrs) -> Brief:
    required = attrs.pop("required", [])
    return Brief(
        id="b",
        language="ru",
        channel="push",
        product="Карта",
        category="cards",
        attributes=attrs,
        required_attributes=required,
    )


@pytest.mark.parametrize("name", builtin_packs())
def test_builtin_examples_pass(name):
    ran, failures = load_pack(name).test_examples()
    assert ran > 40
    assert failures == []


def test_builtin_packs_hold_300_lexicon_entries():
    total = 0
    for name in ("ru", "en"):
        for spec in load_pack(name).rules:
            if spec.type == "lexicon" and spec.category in {
                "cliche",
                "abstract_claim",
                "superlative",
                "forbidden_word",
            }:
                total += len(spec.entries)
    assert total >= 300


def test_russian_lexicon_matches_inflected_forms(ru):
    for text in (
        "Гарантированного дохода не бывает.",
        "О гарантированном доходе забудьте.",
        "Гарантированные доходы для всех.",
    ):
        cats = ru.check(text).categories()
        assert "forbidden_word" in cats, text


def test_english_lexicon_matches_simple_inflections(en):
    assert "cliche" in en.check("Revolutionizes how you pay. Apply now.").categories()


def test_violation_offsets_point_at_the_text(ru):
    text = "Оформите карту. Самая низкая ставка!"
    result = ru.check(text)
    sup = next(v for v in result.violations if v.category == "superlative")
    assert text[sup.start : sup.end] == sup.text == "Самая низкая"  # the superlative with the word it grades


def test_title_body_cta_scopes(ru):
    msg = Message(title="Кэшбэк 5% на такси", body="Весь май по карте банка.", cta="Оформить")
    assert ru.check(msg).passed
    no_cta = Message(title="Кэшбэк 5% на такси", body="Весь май по карте банка.")
    assert "missing_cta" in ru.check(no_cta).categories()


def test_channel_length_limits(ru):
    text = "Оформите кредитную карту с льготным периодом и кэшбэком на такси в приложении."
    assert ru.check(text, channel="push").passed
    assert ru.check(text, channel="sms").passed  # 79 UCS-2 characters: two SMS segments, within the limit
    longer = text + " Обслуживание бесплатно весь первый год, а кэшбэк приходит каждый месяц."
    assert "length" in ru.check(longer, channel="sms").categories()  # 150 characters: three segments


@pytest.mark.parametrize(
    ("text", "attrs", "category"),
    [
        ("Кэшбэк 5 % на такси. Оформите карту.", {"cashback": "5%"}, None),
        ("Кэшбэк пять процентов на такси. Оформите карту.", {"cashback": "5%"}, None),
        ("Лимит 1 000 ₽ в день. Оформите карту.", {"limit": "1000 руб."}, None),
        ("Лимит 1000 руб. в день. Оформите карту.", {"limit": "1 000 ₽"}, None),
        ("Лимит 2 000 ₽ в день. Оформите карту.", {"limit": "1 000 ₽"}, "fact_mismatch"),
        ("Льготный период 1 год. Оформите карту.", {"grace": "12 месяцев"}, None),
        ("Кэшбэк 5% до 31 мая. Оформите карту.", {"cashback": "5%", "until": "31.05"}, None),
        ("Кэшбэк 5% до 30 июня. Оформите карту.", {"cashback": "5%", "until": "31.05"}, "fact_mismatch"),
        ("Кэшбэк 5% и 7 дней бесплатно. Оформите карту.", {"cashback": "5%"}, "unsupported_number"),
    ],
)
def test_facts(ru, text, attrs, category):
    cats = ru.check(text, brief(**attrs)).categories() & {"fact_mismatch", "unsupported_number"}
    assert cats == ({category} if category else set())


@pytest.mark.parametrize(
    ("text", "value", "other"),
    [
        ("Бонус 1,000,5 ₽ за покупку.", "1000,5 ₽", "2 000 ₽"),
        ("Выплаты 3,512.05 млн ₽ клиентам.", "3512,05 млн ₽", "2 000 млн ₽"),
    ],
)
def test_figure_with_two_decimal_marks_reads_the_last_as_the_decimal(ru, text, value, other):
    """ "1,000,5" and "3,512.05 млн" used to end the check in a ValueError; the last mark is the decimal one."""
    facts = {"fact_mismatch", "unsupported_number"}
    assert not ru.check(text, brief(amount=value)).categories() & facts
    assert "fact_mismatch" in ru.check(text, brief(amount=other)).categories()


def test_english_money_with_thousands_separator(en):
    b = Brief(id="b", language="en", channel="push", product="Card", category="cards", attributes={"limit": "$1,000"})
    assert en.check("Spend up to $1,000 a day. Apply now.", b).passed


def test_required_attribute_textual_value_matches_inflected(ru):
    b = brief(category_name="такси", required=["category_name"])
    assert ru.check("Кэшбэк на поездки в такси. Оформите карту.", b).passed
    assert not ru.check("Кэшбэк на рестораны. Оформите карту.", b).passed


def test_facts_skipped_without_brief(ru):
    assert ru.check("Кэшбэк 7% на такси. Оформите карту.").passed


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_pack_reports_every_problem_with_lines(tmp_path):
    path = write(
        tmp_path,
        """pack: {id: t, language: en}
rules:
  - id: a
    type: nonsense
    category: cliche
    message: x
  - id: b
    type: pattern
    category: cliche
    message: x
    patterns: ["a("]
  - id: c
    type: lexicon
    category: not_a_category
    message: x
    entries: [foo]
""",
    )
    with pytest.raises(PackError) as info:
        load_pack(path)
    problems = info.value.problems
    assert [p.line for p in problems] == [4, 11, 14]
    assert "unknown rule type" in problems[0].message and problems[0].where == "rule a"
    assert "bad regular expression" in problems[1].message
    assert "unknown category" in problems[2].message


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "pack: {id: t, language: en}\nrules:\n  - id: a\n   bad: [\n")
    with pytest.raises(PackError) as info:
        load_pack(path)
    assert info.value.problems[0].line is not None


def test_unknown_pack_names_the_fix():
    with pytest.raises(PackError) as info:
        load_pack("klingon")
    assert "ru" in (info.value.fix or "")


def test_pack_extends_disables_and_overrides(tmp_path):
    path = write(
        tmp_path,
        """extends: en
disable: [en.exclamation]
rules:
  - id: en.cliche
    type: lexicon
    category: cliche
    message: "cliché {match}"
    entries: [synergy]
""",
    )
    pack = load_pack(path)
    assert pack.check("Synergy for you! Apply now!").categories() == {"cliche"}
    assert pack.check("Hurry and apply now.").passed  # the base cliché list was replaced


def custom_rule(text, brief, options):
    word = options["word"]
    i = text.lower().find(word)
    return [] if i < 0 else [(i, i + len(word), f"custom: {word}")]


def test_python_rule(tmp_path):
    path = write(
        tmp_path,
        """pack: {id: t, language: en}
rules:
  - id: t.custom
    type: python
    category: forbidden_word
    message: x
    function: tests.rules.test_engine:custom_rule
    options: {word: crypto}
""",
    )
    result = load_pack(path).check("Buy crypto now.")
    assert [(v.rule, v.text, v.message) for v in result.violations] == [("t.custom", "crypto", "custom: crypto")]
