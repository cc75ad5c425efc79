"""Sources of text -> ``DocumentRecord``s with stable ids.

A document's id is its source id where the source has one (a JSONL ``id`` field, a
node's key) and the SHA-256 of its text otherwise, so reading the same input twice gives
the same ids and re-extraction creates nothing new. Unreadable or empty inputs are
reported to a ``ProblemLog`` and skipped; one bad file never stops the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kg.errors import InputError
from kg.extract.facts import DocumentRecord
from kg.ids import content_hash
from kg.ingest.problems import ProblemLog
from kg.ingest.sources import read_delimited, read_jsonl
from kg.store.base import GraphStore

TEXT_SUFFIXES = (".txt", ".md", ".text")
DOCUMENT_FORMATS = ("text", "jsonl", "csv", "tsv")


def document_id(text: str) -> str:
    """Content-addressed id: the same text always gets the same id."""
    return "sha256-" + content_hash(text)[:32]


def guess_document_format(path: Path) -> str:
    if path.is_dir() or path.suffix.lower() in TEXT_SUFFIXES:
        return "text"
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(
        path.suffix.lower(), "text"
    )


@dataclass(frozen=True)
class ReadOptions:
    """How to read documents from a file: its format (``None``: from the name), the
    fields holding the text and the id, and the field holding the key of the
    ``about_label`` node a row's text describes (a review's product), which the
    document then ``DESCRIBES``."""

    fmt: str | None = None
    text_field: str = "text"
    id_field: str | None = "id"
    about_field: str | None = None
    about_label: str = "Item"
    encoding: str = "utf-8"

    def format_of(self, path: Path) -> str:
        return self.fmt or guess_document_format(path)


def read_documents(
    path: Path, problems: ProblemLog, options: ReadOptions | None = None
) -> Iterator[DocumentRecord]:
    """Documents of a text file, a folder of text files, JSONL or CSV/TSV rows."""
    options = options or ReadOptions()
    if not path.exists():
        raise InputError(f"{path} does not exist.")
    encoding = options.encoding
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a byte-order mark is not text
    fmt = options.format_of(path)
    if fmt not in DOCUMENT_FORMATS:
        raise InputError(f"Unknown document format {fmt!r}; choose one of {', '.join(DOCUMENT_FORMATS)}.")
    if fmt == "text":
        files = (
            sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
            if path.is_dir()
            else [path]
        )
        for file in files:
            record = _text_file(file, problems, encoding)
            if record is not None:
                yield record
        return
    rows = (
        read_jsonl(path, problems, encoding=encoding)
        if fmt == "jsonl"
        else read_delimited(path, problems, delimiter="\t" if fmt == "tsv" else ",", encoding=encoding)
    )
    text_field, id_field, about_field = options.text_field, options.id_field, options.about_field
    for line, row in rows:
        if text_field not in row:
            raise InputError(
                f"{path.name} line {line} has no {text_field!r} field; fields: {sorted(row)}. Pass --text-field."
            )
        text = "" if row[text_field] is None else str(row[text_field])
        if not text.strip():
            problems.report(path.name, line, "empty text; no document created")
            continue
        raw_id = row.get(id_field) if id_field else None
        doc_id = f"{path.stem}-{raw_id}" if raw_id not in (None, "") else document_id(text)
        about_id = row.get(about_field) if about_field else None
        about = (options.about_label, str(about_id)) if about_id not in (None, "") else None
        yield DocumentRecord(id=doc_id, text=text, source=f"{path.name}:{line}", about=about)


def _text_file(file: Path, problems: ProblemLog, encoding: str) -> DocumentRecord | None:
    try:
        text = file.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        problems.report(
            file.name, 0, f"not valid {encoding} (byte {exc.start}); pass --encoding, e.g. latin-1 or cp1252"
        )
        return None
    if not text.strip():
        problems.report(file.name, 0, "empty text; no document created")
        return None
    return DocumentRecord(id=document_id(text), text=text, source=str(file), title=file.stem)


def documents_from_graph(
    store: GraphStore, label: str = "Item", text_property: str = "description", batch_size: int = 10_000
) -> Iterator[DocumentRecord]:
    """The text property of stored nodes (a product's description) as documents that
    describe their node; the id ties the document to the node and the property."""
    store.schema.check_node_properties(label, [text_property])
    for frame in store.iter_nodes(
        label,
        [text_property, "name"] if "name" in store.schema.node(label).properties else [text_property],
        batch_size=batch_size,
    ):
        for row in frame.itertuples(index=False):
            record = row._asdict()
            text = record.get(text_property)
            if not isinstance(text, str) or not text.strip():
                continue
            key = str(record[store.schema.node(label).key])
            yield DocumentRecord(
                id=f"{label.lower()}-{key}-{text_property}",
                text=text,
                source=f"{label}.{text_property}",
                title=record.get("name"),
                about=(label, key),
            )
