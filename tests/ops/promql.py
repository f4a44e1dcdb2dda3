"""The metric names and label names a PromQL expression uses (enough for our own queries).

Not a PromQL parser: it finds `name{matchers}` selectors and `by/without/on/ignoring (...)`
clauses outside string literals, which is all the alert rules and the dashboard use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
SELECTOR = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LABEL_REPLACE = re.compile(r"\blabel_replace\s*\(")
LABEL_VALUES = re.compile(r"\blabel_values\s*\(")  # Grafana's template-variable query

# Words that can stand where a metric name would: functions, operators, keywords.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}


@dataclass
class Query:
    """What one expression uses: metric -> label names matched on it; grouping labels."""

    matchers: dict[str, set[str]] = field(default_factory=dict)
    grouping: set[str] = field(default_factory=set)
    made_labels: set[str] = field(default_factory=set)  # created by label_replace


def _blank_strings(expr: str) -> str:
    """expr with every string literal's contents replaced by spaces (positions kept)."""
    return STRING.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1],
                      expr)


def _arguments(expr: str, blank: str, open_paren: int) -> list[str]:
    """The top-level arguments of the call whose "(" is at `open_paren`, from the original."""
    args, depth, start = [], 0, open_paren + 1
    for i in range(open_paren, len(blank)):
        c = blank[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(expr[start:i].strip())
                return args
        elif c == "," and depth == 1:
            args.append(expr[start:i].strip())
            start = i + 1
    raise ValueError(f"unbalanced parentheses in {expr!r}")


def parse(expr: str, prefix: str = "esl_recorder_") -> Query:
    """The metrics named `prefix...` in `expr`, with their matcher labels and the grouping."""
    query = Query()
    blank = _blank_strings(expr)
    for m in LABEL_REPLACE.finditer(blank):
        args = _arguments(expr, blank, m.end() - 1)
        query.made_labels.add(args[1].strip("\"'`"))
    for m in LABEL_VALUES.finditer(blank):
        query.grouping.add(_arguments(expr, blank, m.end() - 1)[-1])
    for m in SELECTOR.finditer(blank):
        name, braces = m.group(1), m.group(2)
        followed_by_call = blank[m.end():m.end() + 1] == "(" and not braces
        if not name.startswith(prefix) or name in KEYWORDS or followed_by_call:
            continue
        labels = query.matchers.setdefault(name, set())
        if braces:
            labels.update(label for label, _ in MATCHER.findall(expr[m.start(2):m.end(2)]))
    for m in GROUPING.finditer(blank):
        query.grouping.update(x.strip() for x in m.group(2).split(",") if x.strip())
    return query
