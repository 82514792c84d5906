"""The preference (DPO) shape for `validate`, `estimate` and `submit`, in one place.

A line is `{"input": {"messages": [...]}, "preferred_output": [assistant], "non_preferred_output": [assistant]}`
(OpenAI's and Together's shape). Validation finds every problem of a line; token counts cover both
sequences the trainer reads (the prompt with each output); prices are the catalog's DPO entries where a
provider prices DPO apart from SFT, else its SFT price (said in a note).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import InputError, Problem
from orchestrator.tokens import SPECIAL_TOKEN_RE

if TYPE_CHECKING:
    from orchestrator.pricing import Catalog
    from orchestrator.tokens import ModelTokenizer
    from orchestrator.validate import ValidationReport
    from providers.base import ProviderFacts

OUTPUTS = ("preferred_output", "non_preferred_output")
INPUT_KEYS = {"messages", "tools", "parallel_tool_calls"}
INPUT_ROLES = {"system", "user", "assistant"}

Found = list[tuple[str, str, str]]  # (code, level, message)


def _input_problems(source: object) -> Found:
    if not isinstance(source, dict):
        return [("missing_messages_list", "error", "`input` must be an object with `messages`")]
    out: Found = []
    unknown = sorted(set(source) - INPUT_KEYS)
    if unknown:
        out.append(("extra_columns", "error", f"`input` has unrecognised key(s) {unknown}"))
    messages = source.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*out, ("missing_messages_list", "error", "`input.messages` must be a non-empty list")]
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict) or m.get("role") not in INPUT_ROLES:
            role = m.get("role") if isinstance(m, dict) else None
            out.append(
                ("unrecognized_role", "error", f"input message {i} has role {role!r}; use system, user or assistant")
            )
            continue
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            out.append(("missing_content", "error", f"input message {i} has no text content"))
        elif SPECIAL_TOKEN_RE.search(content):
            token = SPECIAL_TOKEN_RE.search(content).group(0)  # type: ignore[union-attr]
            out.append(("special_token", "error", f"input message {i} contains the special token {token}"))
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") != "user":
        out.append(("last_input_not_user", "error", "`input.messages` must end with the user's message"))
    return out


def _output_text(value: object) -> str | None:
    if (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], dict)
        and value[0].get("role") == "assistant"
        and isinstance(value[0].get("content"), str)
        and value[0]["content"].strip()
    ):
        return value[0]["content"]
    return None


def problems(obj: dict) -> Found:
    """Every problem of one preference line (its line number is the caller's)."""
    out = _input_problems(obj.get("input"))
    texts = {}
    for key in OUTPUTS:
        text = _output_text(obj.get(key))
        if text is None:
            out.append(("bad_preference_output", "error", f"`{key}` must be one assistant message with text"))
        elif SPECIAL_TOKEN_RE.search(text):
            token = SPECIAL_TOKEN_RE.search(text).group(0)  # type: ignore[union-attr]
            out.append(("special_token", "error", f"`{key}` contains the special token {token}"))
        texts[key] = text
    if texts.get(OUTPUTS[0]) is not None and texts.get(OUTPUTS[0]) == texts.get(OUTPUTS[1]):
        out.append(("identical_outputs", "error", "the preferred and non-preferred outputs are the same text"))
    return out


def rejected_tokens(obj: dict, tokenizer: ModelTokenizer) -> int:
    """Tokens of the second sequence the trainer reads: the prompt with the non-preferred output (the
    caller counts the prompt with the preferred one)."""
    return tokenizer.count_chat([*obj["input"]["messages"], *obj["non_preferred_output"]])


def price_key(facts: ProviderFacts, catalog: Catalog, provider: str, model: str, default: str) -> tuple[str, str]:
    """The catalog method that prices a DPO run, and a note saying which it is."""
    if facts.price_method == "sft_by_method":
        return "dpo_lora", "DPO price (LoRA); both sequences of each pair counted"
    try:
        catalog.price(provider, model, "dpo_lora")
        return "dpo_lora", "DPO price; both sequences of each pair counted"
    except InputError:
        return default, "no DPO price in the catalog: priced at the SFT rate; both sequences of each pair counted"


def check_method(report: ValidationReport, method: str) -> None:
    """A DPO job needs preference data, and only a DPO job takes it: an InputError naming the file."""
    first = report.files[0] if report.files else None
    if first is None or first.format is None:
        return
    dpo = method == "dpo"
    if dpo != (first.format == "preference"):
        need = "preference pairs (`adsft pairs`)" if dpo else "chat or instruction examples"
        raise InputError(
            f"a {method} job needs {need}, and {first.path} holds {first.format} examples; "
            "nothing was uploaded or charged",
            [Problem(f"{first.format} examples for a {method} job", first.path, 1)],
            fix="set `method: dpo` for preference data, or name the right training file",
        )
