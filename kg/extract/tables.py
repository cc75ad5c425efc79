"""Rich tables of extraction results, shared by the CLI and the demo."""

from __future__ import annotations

from rich.table import Table

from kg.extract.extraction_metrics import EvaluationReport, Scores
from kg.extract.facts import DocumentFacts
from kg.extract.pipeline import ExtractReport


def extract_table(report: ExtractReport, title: str) -> Table:
    """What was found and created, with throughput in the caption."""
    table = Table(title=title)
    for column in ("kind", "name", "found", "created"):
        table.add_column(column, justify="right" if column in ("found", "created") else "left")
    table.add_row("documents", "Document", f"{report.documents:,}", f"{report.created.get('Document', 0):,}")
    for label, count in report.mentions.most_common():
        table.add_row("entity mentions", label, f"{count:,}", f"{report.created.get(label, 0):,}")
    table.add_row("links", "MENTIONS", "", f"{report.created.get('MENTIONS', 0):,}")
    table.add_row("links", "DESCRIBES", "", f"{report.created.get('DESCRIBES', 0):,}")
    for rel_type, count in report.relations.most_common():
        table.add_row("relations", rel_type, f"{count:,}", f"{report.created.get(rel_type, 0):,}")
    table.add_row("attributes", "", f"{report.attributes:,}", "")
    table.add_row(
        "review candidates", "SAME_AS", f"{report.candidates:,}", f"{report.created.get('SAME_AS', 0):,}"
    )
    table.caption = (
        f"{report.documents:,} documents, {report.tokens:,} tokens in {report.seconds:.1f}s: "
        f"{report.documents_per_second:,.1f} documents/s, {report.tokens_per_second:,.0f} tokens/s"
    )
    return table


def preview_tables(facts: DocumentFacts) -> list[Table]:
    """Entities, relations, attributes and review candidates found in one text."""
    entities = Table(title="Entities (-> node they resolve to)")
    for column in ("text", "chars", "label", "node id", "how", "confidence"):
        entities.add_column(column)
    for m in sorted(facts.mentions, key=lambda m: m.start):
        entities.add_row(
            m.text, f"{m.start}-{m.end}", m.label, m.node_id or "", m.method, f"{m.confidence:.2f}"
        )
    relations = Table(title="Relations")
    for column in ("head", "type", "tail", "how", "confidence"):
        relations.add_column(column)
    for r in facts.relations:
        relations.add_row(
            f"{r.head.label}:{r.head.node_id}", r.rel_type, f"{r.tail.label}:{r.tail.node_id}", r.method,
            f"{r.confidence:.2f}",
        )  # fmt: skip
    attributes = Table(title="Attributes (properties of the node they describe)")
    for column in ("node", "property", "value", "text"):
        attributes.add_column(column)
    for a in facts.attributes:
        attributes.add_row(f"{a.label}:{a.node_id}", a.name, str(a.value), a.text)
    tables = [entities, relations, attributes]
    if facts.candidates:
        review = Table(title="Would be listed for review (SAME_AS candidates)")
        for column in ("node", "may be", "score"):
            review.add_column(column)
        for c in facts.candidates:
            review.add_row(f"{c.label}:{c.node_id}", f"{c.other_label}:{c.other_id}", f"{c.score:.1f}")
        tables.append(review)
    return tables


def evaluation_table(report: EvaluationReport, title: str) -> Table:
    """Micro P/R/F1 of entities and strict relations, then per type."""
    table = Table(title=title)
    for column in ("what", "type", "precision", "recall", "F1", "gold", "predicted"):
        table.add_column(column, justify="left" if column in ("what", "type") else "right")

    def row(what: str, name: str, scores: Scores, style: str = "") -> None:
        table.add_row(
            what, name, f"{scores.precision:.3f}", f"{scores.recall:.3f}", f"{scores.f1:.3f}",
            f"{scores.gold:,}", f"{scores.predicted:,}", style=style,
        )  # fmt: skip

    row("entities", "all (exact span + type)", report.entities, "bold")
    for name, scores in sorted(report.entity_types.items()):
        row("", name, scores)
    row("relations", "all (strict)", report.relations, "bold")
    for name, scores in sorted(report.relation_types.items()):
        row("", name, scores)
    table.caption = f"{report.sentences:,} sentences"
    return table
