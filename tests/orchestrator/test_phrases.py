import pytest

from orchestrator import phrases as ph


@pytest.mark.parametrize(
    ("name", "case", "expected"),
    [
        ("Кредитная карта «Свобода»", "accs", "Кредитную карту «Свобода»"),
        ("Кредитная карта «Свобода»", "ablt", "Кредитной картой «Свобода»"),
        ("Индивидуальный инвестиционный счёт", "accs", "Индивидуальный инвестиционный счёт"),
        ("Индивидуальный инвестиционный счёт", "gent", "Индивидуального инвестиционного счёта"),
        ("Зимние куртки", "accs", "Зимние куртки"),
        ("Зимние куртки", "datv", "Зимним курткам"),
        ("Авиабилеты по России", "ablt", "Авиабилетами по России"),
        ("Телевизор Vision 55", "loct", "Телевизоре Vision 55"),
        ("Полис ОСАГО", "ablt", "Полисом ОСАГО"),
    ],
)
def test_russian_product_name_in_every_case(name, case, expected):
    assert ph.ru_case(name, case) == expected


def test_russian_agreement_with_the_product():
    assert ph.ru_head("Кредитная карта «Свобода»") == ("femn", "sing")
    assert ph.ru_head("Кроссовки RunFast")[1] == "plur"
    assert ph.ru_agree("доступен", "Кредитная карта «Свобода»") == "доступна"
    assert ph.ru_agree("доступен", "Кроссовки RunFast") == "доступны"
    assert ph.ru_agree("доступен", "Страхование квартиры") == "доступно"
    assert ph.ru_agree("новый", "Детская одежда") == "новая"
    assert ph.ru_agree("ждёт", "Зимние куртки") == "ждут"


@pytest.mark.parametrize(
    ("n", "case", "expected"),
    [
        (1, "nomn", "1 день"),
        (2, "nomn", "2 дня"),
        (5, "nomn", "5 дней"),
        (11, "nomn", "11 дней"),
        (21, "nomn", "21 день"),
        (24, "nomn", "24 дня"),
        (1, "gent", "1 дня"),
        (24, "gent", "24 дней"),
    ],
)
def test_russian_numerals_agree_with_nouns(n, case, expected):
    assert ph.ru_number(n, "день", case) == expected


def test_russian_count_phrases_and_prepositions():
    assert ph.ru_count("24 месяца", "gent") == "24 месяцев"
    assert ph.ru_count("120 дней", "gent") == "120 дней"
    assert ph.ru_count("10 000 ₽", "gent") == "10 000 ₽"  # a currency sign is no noun
    assert ph.with_prep("до 5 лет", "на") == "до 5 лет"
    assert ph.with_prep("12 месяцев", "на") == "на 12 месяцев"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("8% APR", "an"),
        ("$100 minimum deposit", "a"),
        ("IRA", "an"),
        ("FDIC-insured account", "an"),
        ("hour", "an"),
        ("unit", "a"),
        ("12-month CD", "a"),
        ("11% discount", "an"),
        ("18,000 mile bonus", "an"),
        ("apple", "an"),
        ("Roth IRA", "a"),
        ("X2 headset", "an"),
    ],
)
def test_english_articles(phrase, expected):
    assert ph.en_article(phrase) == expected


def test_english_plurals_and_counts():
    assert ph.en_count(1, "night") == "1 night"
    assert ph.en_count(4, "night") == "4 nights"
    assert ph.en_plural("delivery") == "deliveries"
    assert ph.en_plural("box") == "boxes"
    assert ph.en_is_plural("RunFast sneakers") and not ph.en_is_plural("Roth IRA")


def test_english_from_phrases_stay_after_their_noun():
    assert ph.en_a(ph.en_noun("from $100", "minimum deposit")) == "a minimum deposit from $100"
    assert ph.en_a(ph.en_noun("$1,000", "minimum deposit")) == "a $1,000 minimum deposit"
    assert ph.en_noun("$0 annual fee", "fee") == "$0 annual fee"  # not "$0 annual fee fee"
    assert ph.with_prep("from 5.8% APR", "with", "en") == "from 5.8% APR"  # not "with from"
    assert ph.with_prep("4.5% APY", "of", "en") == "of 4.5% APY"


def test_names_keep_their_capitals_inside_a_sentence():
    assert ph.lower_first("Winter jackets") == "winter jackets"
    assert ph.lower_first("RunFast sneakers") == "RunFast sneakers"
    assert ph.lower_first("Pixel 9 phone", names_follow=True) == "Pixel 9 phone"
    assert ph.lower_first("Voyager travel card", frozenset({"Voyager"})) == "Voyager travel card"
    assert ph.lower_first("Телевизор Vision 55") == "телевизор Vision 55"
    assert ph.join_list(["a", "b", "c"], "en") == "a, b and c"
    assert ph.join_list(["а", "б"], "ru") == "а и б"


def test_english_up_to_keeps_of_for_and_with():
    assert ph.with_prep("up to $50,000", "for", "en") == "for up to $50,000"  # "apply for up to", not "apply up to"
    assert ph.with_prep("up to 5 years", "of", "en") == "of up to 5 years"
    assert ph.with_prep("up to 5 years", "over", "en") == "up to 5 years"  # never "over up to"
    assert ph.with_prep("from $100", "for", "en") == "from $100"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("страховкой для путешествий", "со страховкой для путешествий"),
        ("скидкой", "со скидкой"),
        ("сберегательным счётом", "со сберегательным счётом"),
        ("картой «Свобода»", "с картой «Свобода»"),
        ("семейной ипотекой", "с семейной ипотекой"),
        ("зимними куртками", "с зимними куртками"),
    ],
)
def test_russian_s_or_so_before_the_instrumental(phrase, expected):
    assert ph.ru_with(phrase) == expected
