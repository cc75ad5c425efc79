"""What a read-only query may not do besides writing the graph: touch files and the network.

A read-only transaction stops changes to the graph, but not statements that read or
write *files* (`COPY (...) TO '/path'`, `LOAD FROM '/etc/hostname'`, Neo4j's `LOAD CSV`
and APOC's load/export procedures), load native code (`INSTALL`/`LOAD EXTENSION`),
attach other databases or change engine settings. Without `--write`, `kg query` refuses
those before they reach the store.

The check works on the statement's code words (``kg.store.cypher_tokens``): string
literals, backtick-quoted names and comments are skipped, so a product called "Load
from Copy" is data, not a clause.
Each store names the words and procedure prefixes it refuses (``EMBEDDED_RULES``,
``NEO4J_RULES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kg.errors import StoreError
from kg.store.cypher_tokens import code_words


@dataclass(frozen=True)
class GuardRules:
    """What one store refuses in a read-only query.

    ``words``: keywords that read or write outside the graph wherever they appear.
    ``procedure_prefixes``: dotted procedure/function names (lower case) that do.
    ``first_words``: the only keywords a read-only statement may start with.
    ``standalone_call_setting``: refuse ``CALL name = value`` (an engine setting)."""

    words: frozenset[str]
    procedure_prefixes: tuple[str, ...]
    first_words: frozenset[str]
    standalone_call_setting: bool = False


_READ_STARTS = frozenset({"MATCH", "OPTIONAL", "WITH", "RETURN", "UNWIND", "CALL", "EXPLAIN", "PROFILE"})

EMBEDDED_RULES = GuardRules(
    # COPY ... TO/FROM and LOAD FROM read or write files, and so do the file-reading
    # table functions (CALL read_parquet('/path')); INSTALL/LOAD EXTENSION load native
    # code; EXPORT/IMPORT DATABASE and ATTACH work on other files (USE, DETACH and
    # CHECKPOINT are refused as first words).
    words=frozenset(
        {"COPY", "LOAD", "INSTALL", "UNINSTALL", "UPDATE", "EXPORT", "IMPORT", "ATTACH"}
        | {"READ_CSV_PARALLEL", "READ_CSV_SERIAL", "READ_PARQUET", "READ_NPY", "READ_PANDAS", "FILE_INFO"}
        | {"COPY_CSV", "COPY_PARQUET"}
    ),
    procedure_prefixes=(),
    first_words=_READ_STARTS,
    standalone_call_setting=True,
)

NEO4J_RULES = GuardRules(
    # LOAD CSV reads server files and URLs; APOC's load/import/export/log procedures read
    # or write files and URLs.
    words=frozenset({"LOAD"}),
    procedure_prefixes=(
        "apoc.load",
        "apoc.import",
        "apoc.export",
        "apoc.log",
        "apoc.util.s3",
        "dbms.setconfigvalue",
    ),
    first_words=_READ_STARTS | {"SHOW", "USE"},
)


def refuse_outside_access(cypher: str, rules: GuardRules) -> None:
    """Raise ``StoreError`` when a read-only query would reach outside the graph."""
    words = code_words(cypher)
    if not words:
        return
    for position, word in enumerate(words):
        upper = word.upper()
        if upper in rules.words:
            raise StoreError(
                f"{upper} reaches outside the graph (files, extensions or other databases); "
                "queries are read-only unless you pass --write."
            )
        if "." in word and word.lower().startswith(rules.procedure_prefixes):
            raise StoreError(
                f"{word} reaches outside the graph (files or URLs); queries are read-only unless you pass --write."
            )
        if (
            rules.standalone_call_setting
            and upper == "CALL"
            and position + 2 < len(words)
            and words[position + 2] == "="
        ):
            raise StoreError(
                "CALL name = value changes an engine setting; queries are read-only unless you pass --write."
            )
    first = words[0].upper()
    if first not in rules.first_words:
        raise StoreError(
            f"{words[0]} statements change the graph, its schema or the engine; "
            "queries are read-only unless you pass --write."
        )
