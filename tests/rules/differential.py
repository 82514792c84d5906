"""Cases for the differential test: every labelled message and 10,000 generated ones, with the
violations the engine gave for each when the cases were recorded.

The generated messages are random mixes of sentences from the labelled sets and sample messages
(never the blind split ``rules_test``), mutated the ways model output goes wrong: words in capitals,
exclamations, emoji, template slots, a word twice, lexicon phrases in other inflections, numbers that
differ from the brief, Latin letters inside Cyrillic words, quoted names, title/body/cta records,
every channel. Each case is stored with its inputs, so the recording does not depend on the data files
staying as they are; only ``rules_test`` is stored as digests (its messages are not to be read).

    python tests/rules/differential.py      # re-record (only from an engine known to be right)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "datasets" / "samples"
RECORDED = Path(__file__).with_name("differential.jsonl.gz")
LABELLED = ("labelled_messages", "rules_dev", "rules_dev2", "rules_test")
BLIND = "rules_test"
SOURCES = ("labelled_messages", "rules_dev", "rules_dev2", "messages_ru", "messages_en")
CHANNELS = (None, "push", "sms", "banner", "email_subject", "ad_text")
GENERATED = 10_000
EMOJI = ("🔥", "✈️", "👍🏽", "💳", "🇷🇺", "👩‍💻", "⭐", "🎁")
PLACEHOLDERS = ("{name}", "[ИМЯ]", "{{product}}", "%FIRST_NAME%", "<brand>", "[Name]", "{discount}")
HOMOGLYPHS = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x"}


def _rows(name: str) -> list[dict]:
    path = SAMPLES / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:24]


def violations_of(pack, message, brief, channel) -> list[list]:
    """The violations of one check, every field, in the engine's order."""
    result = pack.check(message, brief, channel)
    return [
        [v.rule, v.category, v.level, v.start, v.end, v.text, v.message, v.suggestion, v.scope]
        for v in result.violations
    ]


def labelled_inputs(name: str, row: dict):
    """What `adsft rules eval` checks for a labelled record: the message and brief, no channel argument."""
    from rules import Brief, Message

    brief = Brief(**row["brief"]) if row.get("brief") else None
    return row["language"], Message.of(row), brief, None


# --- generation -----------------------------------------------------------------------------------


def _sentences(language: str) -> list[str]:
    out: list[str] = []
    for name in SOURCES:
        for row in _rows(name):
            if row.get("language", row.get("brief", {}).get("language")) not in (language, None):
                continue
            text = row.get("text") or " ".join(p for p in (row.get("title"), row.get("body"), row.get("cta")) if p)
            if language == "ru" and not re.search("[а-яё]", text, re.I):
                continue
            if language == "en" and re.search("[а-яё]", text, re.I):
                continue
            out.extend(s.strip() for s in re.split(r"(?<=[.!?…])\s+|\n", text) if s.strip())
    return sorted(set(out))


def _briefs(language: str) -> list[dict]:
    found: dict[str, dict] = {}
    for name in ("labelled_messages", "rules_dev", "rules_dev2"):
        for row in _rows(name):
            if row.get("brief") and row["brief"]["language"] == language:
                found[digest(row["brief"])] = row["brief"]
    for line in (ROOT / "datasets" / "briefs" / "catalog.jsonl").read_text(encoding="utf-8").splitlines():
        brief = json.loads(line)
        if brief["language"] == language:
            found[digest(brief)] = brief
    return [found[k] for k in sorted(found)]


def _lexicon_phrases(language: str) -> list[str]:
    """Phrases of the pack's lexicon rules, some in another inflected form."""
    from rules import load_pack
    from rules.morph import forms_of

    rng = random.Random(11)
    phrases = []
    for spec in load_pack(language).rules:
        for entry in getattr(spec, "entries", None) or list(getattr(spec, "swap", {}) or {}):
            phrase = entry if isinstance(entry, str) else getattr(entry, "phrase", None)
            if not isinstance(phrase, str):
                continue
            phrases.append(phrase)
            words = phrase.split()
            if words and rng.random() < 0.5:
                forms = sorted(forms_of(words[-1].lower(), language))
                phrases.append(" ".join([*words[:-1], rng.choice(forms)]))
    return sorted(set(phrases))


def _mutate(text: str, rng: random.Random, language: str, phrases: list[str], brief: dict | None) -> str:
    words = text.split(" ")
    roll = rng.random
    if roll() < 0.25 and phrases:
        at = rng.randrange(len(words) + 1)
        phrase = rng.choice(phrases)
        words.insert(at, phrase.capitalize() if at == 0 else phrase)
    if roll() < 0.12:
        i = rng.randrange(len(words))
        words[i] = words[i].upper()
    if roll() < 0.06:
        i = rng.randrange(len(words))
        words.insert(i, words[i])
    if roll() < 0.06:
        words.insert(rng.randrange(len(words) + 1), rng.choice(PLACEHOLDERS))
    if roll() < 0.08:
        words.insert(rng.randrange(len(words) + 1), rng.choice(EMOJI))
    if roll() < 0.05 and language == "ru":
        i = rng.randrange(len(words))
        letters = [c for c in words[i] if c in HOMOGLYPHS]
        if letters:
            words[i] = words[i].replace(letters[0], HOMOGLYPHS[letters[0]], 1)
    if roll() < 0.06 and len(words) > 3:
        i = rng.randrange(len(words) - 2)
        opening, closing = ("«", "»") if language == "ru" else ('"', '"')
        words[i : i + 2] = [opening + " ".join(words[i : i + 2]) + closing]
    text = " ".join(words)
    if roll() < 0.15:
        text = re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.choice((1, 2, 5, 10))), text, count=1)
    if roll() < 0.08 and brief and brief.get("attributes"):
        value = rng.choice(sorted(str(v) for v in brief["attributes"].values()))
        text = f"{text} {value}"
    if roll() < 0.08:
        text = text.rstrip(".") + rng.choice(("!", "!!", "!!!", "?", "...", "…", "?!"))
    if roll() < 0.04:
        text = text.lower()
    if roll() < 0.03:
        text = text.replace(" ", "  ", 1)
    return text


def _records(language: str) -> list[dict]:
    """Labelled records with a brief (not the blind split): their text is mutated lightly."""
    return [r for name in SOURCES[:3] for r in _rows(name) if r.get("brief") and r["language"] == language]


def generated_cases(n: int = GENERATED, seed: int = 16) -> Iterator[dict]:
    rng = random.Random(seed)
    pools = {lang: (_sentences(lang), _briefs(lang), _lexicon_phrases(lang)) for lang in ("ru", "en")}
    records = {lang: _records(lang) for lang in ("ru", "en")}
    for i in range(n):
        language = "ru" if i % 2 == 0 else "en"
        sentences, briefs, phrases = pools[language]
        if rng.random() < 0.25:  # a real message and its brief, lightly changed
            row = rng.choice(records[language])
            message = {k: row[k] for k in ("text", "title", "body", "cta", "channel") if row.get(k)}
            key = "body" if "body" in message else "text"
            if rng.random() < 0.6:
                message[key] = _mutate(message[key], rng, language, phrases, row["brief"])
            yield {"pack": language, "brief": row["brief"], "channel": None, "message": message}
            continue
        brief = rng.choice(briefs) if rng.random() < 0.6 else None
        parts = [rng.choice(sentences) for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
        if rng.random() < 0.04:  # a sentence of the other language
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(pools["en" if language == "ru" else "ru"][0]))
        parts = [_mutate(p, rng, language, phrases, brief) for p in parts]
        case: dict = {"pack": language, "brief": brief, "channel": rng.choice(CHANNELS)}
        shape = rng.random()
        if shape < 0.25 and len(parts) >= 2:
            case["message"] = {"title": parts[0], "body": " ".join(parts[1:-1]) or parts[-1], "cta": parts[-1]}
        elif shape < 0.35:
            case["message"] = {"body": " ".join(parts), "cta": rng.choice(sentences)[:40]}
        elif shape < 0.42:
            case["message"] = {"title": parts[0][:60], "body": " ".join(parts)}
        else:
            case["message"] = {"body": (" " if rng.random() < 0.8 else "\n").join(parts)[:400]}
        if rng.random() < 0.3:  # the channel on the message instead of the call
            case["message"]["channel"] = case.pop("channel")
            case["channel"] = None
        yield case


def generated_inputs(case: dict):
    from rules import Brief, Message

    brief = Brief(**case["brief"]) if case.get("brief") else None
    return case["pack"], Message.of(case["message"]), brief, case.get("channel")


# --- recording ------------------------------------------------------------------------------------


def record() -> None:
    from rules import load_pack

    packs = {name: load_pack(name) for name in ("ru", "en")}
    lines = []
    for name in LABELLED:
        for number, row in enumerate(_rows(name), 1):
            language, message, brief, channel = labelled_inputs(name, row)
            found = violations_of(packs[language], message, brief, channel)
            entry = {"kind": "labelled", "file": name, "line": number, "input": digest(row)}
            if name == BLIND:
                entry["violations_digest"] = digest(found)
            else:
                entry["violations"] = found
            lines.append(entry)
    for case in generated_cases():
        language, message, brief, channel = generated_inputs(case)
        found = violations_of(packs[language], message, brief, channel)
        lines.append({"kind": "generated", "case": case, "violations": found})
    with gzip.open(RECORDED, "wt", encoding="utf-8") as fh:
        for entry in lines:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")  # key order is input: kept
    flagged = sum(bool(e.get("violations")) for e in lines if e["kind"] == "generated")
    print(f"recorded {len(lines)} cases ({flagged} generated ones with violations) in {RECORDED}")


def recorded() -> list[dict]:
    with gzip.open(RECORDED, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    record()
