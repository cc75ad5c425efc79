"""Cypher text split into code tokens, for checks that must not be fooled by strings.

Both stores' read-only guard and the query parameter check read statements here:
string literals, backtick-quoted names and comments are recognised whole, so their
content never counts as a keyword or a ``$parameter``.
"""

from __future__ import annotations

import re

# One alternative per token kind; strings, quoted names and comments are matched whole so
# their content never counts as code.
_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<line_comment>//[^\n]*)
    | (?P<block_comment>/\*.*?(\*/|\Z))
    | (?P<string>'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)
    | (?P<quoted>`(?:[^`]|``)*`?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def code_words(cypher: str) -> list[str]:
    """The statement's code words in order (keywords, names, dotted names), without the
    text of strings, quoted names and comments."""
    words = []
    for match in _TOKEN.finditer(cypher):
        if match.lastgroup == "word":
            words.append(re.sub(r"\s+", "", match.group()))
        elif match.lastgroup in ("string", "quoted"):
            words.append("'")  # a placeholder: keeps "CALL x = 'v'" shaped, matches no rule
        elif match.lastgroup == "other" and match.group() == "=":
            words.append("=")
    return words


def code_tokens(cypher: str) -> list[tuple[str, str]]:
    """``(kind, text)`` of each token but spaces and comments, in order; kinds are
    ``word`` (dotted names joined, spaces removed), ``string``, ``quoted`` and ``other``
    (one character), for checks that read punctuation too (a label after ``:``)."""
    tokens = []
    for match in _TOKEN.finditer(cypher):
        kind = match.lastgroup or "other"
        if kind in ("space", "line_comment", "block_comment"):
            continue
        text = re.sub(r"\s+", "", match.group()) if kind == "word" else match.group()
        tokens.append((kind, text))
    return tokens


def parameter_names(cypher: str) -> set[str]:
    """The ``$name`` parameters a statement uses (outside strings and comments)."""
    names = set()
    previous = ""
    for match in _TOKEN.finditer(cypher):
        if match.lastgroup == "word" and previous == "$":
            names.add(match.group().split(".")[0].strip())
        elif match.lastgroup == "quoted" and previous == "$":
            names.add(match.group().strip("`"))
        previous = match.group() if match.lastgroup == "other" else ""
    return names
