"""Inflection: every form of a lexicon word, computed once when a pack loads.

Russian uses pymorphy3's dictionary (the lexeme of the word's most likely reading, kept to the same
part of speech, so "гарантированный" yields its case and number forms but not the verb's). English
gets the regular inflections (plural, 3rd person, past, gerund, comparative). Checking never
lemmatises: it looks words up in the expanded sets.
"""

from __future__ import annotations

from functools import cache

from rules.text import normalise

_VOWELS = set("aeiou")


@cache
def _analyzer():  # pymorphy3 is imported lazily: packs without Russian never pay for it
    import pymorphy3

    return pymorphy3.MorphAnalyzer(path=_dictionary_path())


def _dictionary_path() -> str | None:
    """The dictionary pymorphy3 would choose itself (its environment variable, else the installed
    ``pymorphy3-dicts-ru``), found without its scan of every installed package's entry points, which
    costs a cold process more than the rest of loading the dictionary. None: let pymorphy3 look."""
    import os

    if "PYMORPHY2_DICT_PATH" in os.environ:
        return None
    try:
        import pymorphy3_dicts_ru
    except ImportError:
        return None
    return pymorphy3_dicts_ru.get_path()


@cache
def russian_forms(word: str) -> frozenset[str]:
    """All inflected forms of a Russian word, normalised, within its part of speech."""
    parses = _analyzer().parse(word)
    if not parses:
        return frozenset({normalise(word)})
    best = parses[0]
    tag = best.tag
    keep = {normalise(word)}
    for form in best.lexeme:
        ftag = form.tag
        related = (tag.POS == "ADJF" and ftag.POS in {"ADJS", "COMP"}) or (tag.POS == "INFN" and ftag.POS == "VERB")
        if ftag.POS != tag.POS and not related:
            continue
        if tag.POS in {"PRTF", "PRTS"} and (ftag.voice != tag.voice or ftag.tense != tag.tense):
            continue
        keep.add(normalise(form.word))
    return frozenset(keep)


@cache
def english_forms(word: str) -> frozenset[str]:
    """The regular inflections of an English word (over-generation is harmless for lookup), but not its
    superlative: "smartest way" is a superlative, not the abstract "smart way"."""
    w = normalise(word)
    forms = {w}
    if len(w) < 3:
        return frozenset(forms)
    if w.endswith("y") and w[-2] not in _VOWELS:
        stem = w[:-1]
        forms |= {stem + "ies", stem + "ied", stem + "ier", w + "ing"}
    elif w.endswith("e"):
        forms |= {w + "s", w + "d", w + "r", w[:-1] + "ing"}
    elif w.endswith(("s", "x", "z", "ch", "sh")):
        forms |= {w + "es", w + "ed", w + "ing"}
    else:
        forms |= {w + "s", w + "ed", w + "ing", w + "er"}
        if len(w) <= 5 and w[-1] not in _VOWELS and w[-2] in _VOWELS and w[-3] not in _VOWELS:
            forms |= {w + w[-1] + "ed", w + w[-1] + "ing", w + w[-1] + "er"}
    return frozenset(forms)


def forms_of(word: str, language: str) -> frozenset[str]:
    """Forms of one word in the given language; a Latin word in a Russian pack inflects as English."""
    if language == "ru" and any("а" <= c <= "я" or c == "ё" for c in word.lower()):
        return russian_forms(word)
    return english_forms(word)
