import re

import jinja2
import pytest

from orchestrator import fidelity
from orchestrator.briefs import load_briefs
from orchestrator.errors import InputError
from orchestrator.paths import data_dir
from orchestrator.plans import Facts, load_generator
from orchestrator.quality import judge, sanity_pack
from rules import Brief, load_pack


@pytest.fixture(scope="module")
def catalog():
    return list(load_briefs(data_dir() / "briefs" / "catalog.jsonl").values())


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_bank_has_four_wordings_per_length(language, catalog):
    """At least 4 wordings per attribute kind and per slot, for each channel length."""
    gen = load_generator(language)
    kinds = {k for b in catalog if b.language == language for k in b.attributes} - {"deadline", "cashback_on"}
    for kind in kinds:
        bank = gen.spec.facts[kind]
        assert len(set(bank.short)) >= 4, kind
        assert len(set(bank.short + bank.long)) >= 4, kind
    scopes = [gen.spec.slots, *gen.spec.by_category.values(), *gen.spec.by_segment.values()]
    for scope in scopes:
        for name, bank in scope.items():
            if scope is gen.spec.slots and name in {"cta_bare", "cta_alt"}:
                continue  # the brief's own call to action, repeated as a default
            assert len(set(bank.short)) >= 4, name
    plans_per_length = {length: [p for p in gen.spec.plans if length in p.lengths] for length in ("short", "long")}
    assert all(len(p) >= 4 for p in plans_per_length.values())


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_brief_gets_candidates_that_pass_every_check(language, catalog):
    gen = load_generator(language)
    pack, sanity = load_pack(language), sanity_pack(language)
    clean = 0
    briefs = [b for b in catalog if b.language == language][::4]
    for brief in briefs:
        cands = gen.candidates(brief, 40, seed=1)
        assert cands, brief.id
        verdicts = [judge(c.text, brief, pack, sanity) for c in cands]
        assert any(v.clean for v in verdicts), brief.id
        assert all(not v.foreign and not v.missing for v in verdicts), brief.id  # plans only say the brief's facts
        clean += sum(v.clean for v in verdicts)
    assert clean / (40 * len(briefs)) > 0.6


def test_candidates_repeat_with_a_seed(catalog):
    gen = load_generator("ru")
    brief = next(b for b in catalog if b.language == "ru")
    assert gen.candidates(brief, 20, seed=3) == gen.candidates(brief, 20, seed=3)
    assert gen.candidates(brief, 20, seed=3) != gen.candidates(brief, 20, seed=4)


def test_russian_messages_agree_with_the_product():
    brief = Brief(
        id="b",
        language="ru",
        channel="push",
        product="Зимние куртки",
        category="clothing",
        attributes={"discount": "30%"},
        cta="Выберите куртку",
    )
    texts = {c.text for c in load_generator("ru").candidates(brief, 300, seed=0)}
    assert any("Зимние куртки доступны" in t for t in texts)
    assert any("С зимними куртками" in t for t in texts)
    assert not any("Зимние куртки доступна" in t or "С Зимними" in t for t in texts)


def test_english_from_values_are_never_premodifiers():
    brief = Brief(
        id="b",
        language="en",
        channel="push",
        product="Short-term bond fund",
        category="investments",
        attributes={"min_deposit": "from $100", "rate": "from 5.5% APR"},
        cta="Start investing",
    )
    texts = [c.text for c in load_generator("en").candidates(brief, 300, seed=0)]
    assert any("minimum deposit from $100" in t for t in texts)
    for bad in ("a from", "of from", "with from", "from $100 minimum"):
        assert not any(bad in t for t in texts), bad


def test_a_broken_wording_names_the_file(tmp_path):
    (tmp_path / "plans_en.yaml").write_text(
        "language: en\nchannels: {push: long}\nplans:\n  - {id: p, text: '{{ facts.list '}\nslots: {}\nfacts: {}\n"
    )
    with pytest.raises(InputError) as info:
        load_generator("en", tmp_path)
    assert "plans_en.yaml" in str(info.value)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Personal loan with from 5.8% APR. Check your rate."),
        ("en", "Open it with a from $100 minimum deposit. Open an account."),
        ("en", "Fast delivery. Order now today."),
        ("en", "Ready for summer? The Winter jackets are 30% off. Shop jackets."),
        ("en", "$0 annual fee monthly fee. Apply for the card."),
        ("en", "Save 10% , order now."),
        ("ru", "Доставка продуктов, доставка за 30 минут. Закажите продукты."),
        ("ru", "Вклад на до 5 лет. Откройте вклад."),
        ("ru", "Оформите карту сегодня сейчас."),
        ("ru", "Обслуживание 990 ₽ в месяц в год. Оформите карту."),
        ("ru", "С Полисом ОСАГО — скидка 10%. Оформите полис."),
        ("ru", "Планируете отпуск? тур в Сочи от 39 900 ₽. Забронируйте тур."),
    ],
)
def test_sanity_pack_catches_the_defects_a_copywriter_sees(language, text):
    assert sanity_pack(language).check(text).violations, text


@pytest.mark.parametrize("language", ["ru", "en"])
def test_sanity_pack_examples(language):
    ran, failures = sanity_pack(language).test_examples()
    assert ran >= 20 and failures == []


def test_fidelity_numbers_must_be_the_briefs():
    brief = Brief(
        id="b",
        language="ru",
        channel="push",
        product="Смартфон Galaxy S24",
        category="electronics",
        attributes={"discount": "15%", "installment": "12 месяцев", "price": "от 59 990 ₽", "deadline": "31 мая"},
        required_attributes=["discount"],
        cta="Закажите смартфон",
    )
    assert fidelity.check("Galaxy S24: скидка 15% до 31 мая, рассрочка на 12 месяцев.", brief).ok
    assert fidelity.check("Цена от 59 990 ₽ и скидка 15%.", brief).ok
    report = fidelity.check("Скидка 20% и рассрочка на 12 дней.", brief)
    assert report.foreign == ["20 %", "12 дн"] and report.missing == ["discount"]
    assert fidelity.check("Рассрочка на 12 месяцев.", brief).missing == ["discount"]
    en = Brief(
        id="e",
        language="en",
        channel="push",
        product="Roth IRA",
        category="investments",
        attributes={"contribution": "up to $7,000 a year"},
        required_attributes=["contribution"],
    )
    assert fidelity.check("Save up to $7,000 a year.", en).ok
    assert fidelity.check("Save up to $7,500 a year.", en).foreign == ["$7500 a"]


def test_a_fact_with_its_own_preposition_never_opens_a_sentence():
    facts = Facts(["на срок 6 месяцев", "ставка 16% годовых"], "ru")
    assert facts.lead == "ставка 16% годовых и на срок 6 месяцев"
    assert facts.first == "ставка 16% годовых" and facts.rest == "на срок 6 месяцев"
    with pytest.raises(jinja2.UndefinedError):
        _ = Facts(["под 17% годовых", "на срок 6 месяцев"], "ru").lead


def test_why_sentences_say_what_a_fact_gives_and_need_one():
    facts = Facts(["5% cashback"], "en", ["cashback"], reason="part of each purchase comes back to you")
    assert facts.why == "Part of each purchase comes back to you."
    assert facts.so == "part of each purchase comes back to you"
    with pytest.raises(jinja2.UndefinedError):
        _ = Facts(["5% cashback"], "en").why


def _texts(language, product, category, attributes, cta, count=400):
    brief = Brief(
        id="b", language=language, channel="push", product=product, category=category, attributes=attributes, cta=cta
    )
    return [c.text for c in load_generator(language).candidates(brief, count, seed=0)]


def test_no_term_or_fixed_rate_for_a_product_without_a_term():
    en = _texts("en", "High-yield savings account", "deposits", {"rate": "4.5% APY", "min_deposit": "$500"}, "Open")
    assert not any(re.search(r"\bterm\b|fixed rate", t) for t in en)  # "terms" (conditions) are fine
    ru = _texts("ru", "Накопительный счёт «Копилка»", "deposits", {"rate": "13%", "min_amount": "1 ₽"}, "Откройте")
    assert not any("на весь срок" in t or "фиксированная" in t.lower() for t in ru)
    cd = _texts("en", "12-month CD", "deposits", {"rate": "4.2% APY", "term": "12 months"}, "Open")
    assert any("for the full 12 months" in t for t in cd)
    assert not any("to repay" in t or "repayment" in t for t in cd)  # a deposit is not repaid


def test_free_claims_only_for_free_values():
    texts = _texts("en", "Voyager travel card", "cards", {"annual_fee": "$95", "miles": "2 miles per $1"}, "Apply")
    assert not any("costs nothing" in t or "at no cost" in t for t in texts)
    fund = _texts("ru", "Фонд облигаций «Стабильный»", "investments", {"commission": "0,5% в год"}, "Купите паи")
    # a fund's yearly fee is no trading fee
    assert not any("за сделк" in t or "на сделк" in t or "брокер" in t for t in fund)


def test_russian_so_before_consonant_clusters_and_english_is_or_are():
    ru = _texts("ru", "Страховка для путешествий", "insurance", {"price": "от 250 ₽"}, "Оформите полис")
    assert any("Со страховкой для путешествий" in t for t in ru)
    assert not any("С страховкой" in t for t in ru)
    en = _texts("en", "Winter jackets", "clothing", {"discount": "30%"}, "Shop jackets", 600)
    assert any("These are the winter jackets" in t for t in en)
    assert not any("This is the winter jackets" in t for t in en)


def test_shop_wordings_stay_in_shops():
    texts = _texts("en", "Car insurance", "insurance", {"discount": "10%", "quote_time": "in 5 minutes"}, "Get a quote")
    assert not any("planned to buy" in t or "tag price" in t or "booking fee" in t for t in texts)
