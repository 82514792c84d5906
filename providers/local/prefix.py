"""Shared prompt prefixes: the prompts of a batch mostly begin with the same tokens (the chat's system
message, the start of the user's), so rows that share a prefix have it run once, its KV cache is copied
to each of them, and only the rest of each prompt is run for every row.

Rows are sorted by their tokens; neighbours that share at least `min_prefix` tokens form a group, whose
prefix is what all its rows share (short of each row's last token: every row still runs one token of
its own, whose logits start its reply). A row that shares too little with its neighbours is a group
alone, its prefix all but its last token. Sharing is used only where it saves a good part of the work.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

MIN_PREFIX = 16  # the fewest shared tokens worth running apart from the rest of the prompts
MIN_SAVING = 0.25  # sharing is used when it saves at least this share of the prompt tokens run


@dataclass(frozen=True)
class PrefixPlan:
    prefixes: list[list[int]]  # each group's shared tokens, run once
    group_of: list[int]  # per row, the index of its group
    suffixes: list[list[int]]  # per row, its tokens after its group's prefix (at least one)


def common_length(a: list[int], b: list[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def plan(rows: list[list[int]], min_prefix: int = MIN_PREFIX) -> PrefixPlan | None:
    """How to run `rows` (non-empty token lists) with their shared prefixes, or None where sharing would
    not save MIN_SAVING of the tokens run (the prompts padded to the longest, as without sharing)."""
    if len(rows) < 2:
        return None
    order = sorted(range(len(rows)), key=rows.__getitem__)
    members: list[list[int]] = [[order[0]]]
    shared: list[int] = [len(rows[order[0]])]
    for previous, i in itertools.pairwise(order):
        length = common_length(rows[previous], rows[i])
        if length >= min_prefix:
            members[-1].append(i)
            shared[-1] = min(shared[-1], length)
        else:
            members.append([i])
            shared.append(len(rows[i]))
    lengths = [min(n, *(len(rows[i]) - 1 for i in group)) for n, group in zip(shared, members, strict=True)]
    group_of = [0] * len(rows)
    for number, group in enumerate(members):
        for i in group:
            group_of[i] = number
    prefixes = [rows[group[0]][:n] for n, group in zip(lengths, members, strict=True)]
    suffixes = [row[lengths[group_of[i]] :] for i, row in enumerate(rows)]
    run_shared = len(prefixes) * max(lengths) + len(rows) * max(map(len, suffixes))
    run_plain = len(rows) * max(map(len, rows))
    if min(lengths) == 0 or run_shared > (1 - MIN_SAVING) * run_plain:
        return None
    return PrefixPlan(prefixes, group_of, suffixes)
