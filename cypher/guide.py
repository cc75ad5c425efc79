"""The Neo4j Browser guide, rendered from ``guide.toml`` and the query library.

The guide is the HTML slide format that both ``:guide <url>`` (the guide drawer of the
current Browser) and ``:play <url>`` read: ``<slide>`` elements, and ``<pre>`` blocks
with class ``runnable`` that copy their text into the editor when clicked. Its queries
are the library's own files, so the guide cannot drift from what the tests check.

Regenerate after changing a query or ``guide.toml``::

    python -m cypher.guide docker/guide/kg-guide.html
"""

from __future__ import annotations

import json
import sys
import tomllib
from html import escape
from pathlib import Path
from typing import Any

from cypher import LIBRARY_DIR, CypherQuery, load_query

GUIDE_SPEC = LIBRARY_DIR / "guide.toml"
GUIDE_FILE = LIBRARY_DIR.parent / "docker" / "guide" / "kg-guide.html"


def _spec() -> dict[str, Any]:
    return tomllib.loads(GUIDE_SPEC.read_text("utf-8"))


def _param_commands(query: CypherQuery) -> str:
    """``:param name => value;`` lines; the ``=>`` form is evaluated by the server, so
    integers stay integers (``LIMIT $k`` needs one). The Browser splits a block into
    commands only at ``;``: without it, several lines ran as one broken command."""
    return "\n".join(f":param {name} => {json.dumps(value)};" for name, value in query.bind({}).items())


def _runnable(text: str) -> str:
    return f'<pre class="pre-scrollable code runnable">{escape(text)}</pre>'


def _figure(query: CypherQuery) -> str:
    parts = ["<figure>"]
    if query.params:
        parts.append(_runnable(_param_commands(query)))
    where = "" if query.portable else " (Neo4j only)"
    parts += [
        _runnable(query.text),
        f"<figcaption>{escape(query.name)}{where}: {escape(query.description)}</figcaption>",
    ]
    parts.append("</figure>")
    return "\n".join(parts)


def render_guide() -> str:
    """The guide as one HTML document."""
    spec = _spec()
    slides = []
    for slide in spec["slides"]:
        body = [f"<p>{escape(slide['text'])}</p>"]
        body += [f"<figure>{_runnable(text)}</figure>" for text in slide.get("cypher", [])]
        body += [_figure(load_query(name)) for name in slide.get("queries", [])]
        slides.append(
            '<slide class="row-fluid">\n'
            f'<div class="col-sm-3">\n<h3>{escape(slide["title"])}</h3>\n'
            f'<p class="lead">{escape(slide["lead"])}</p>\n</div>\n'
            f'<div class="col-sm-9">\n' + "\n".join(body) + "\n</div>\n</slide>"
        )
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(spec['title'])}</title>\n</head>\n<body>\n"
        '<article class="guide">\n<carousel class="deck container-fluid">\n'
        + "\n".join(slides)
        + "\n</carousel>\n</article>\n</body>\n</html>\n"
    )


def guide_statements() -> list[tuple[str, dict[str, Any]]]:
    """Every Cypher statement of the guide with its parameters (for the parser check)."""
    statements: list[tuple[str, dict[str, Any]]] = []
    for slide in _spec()["slides"]:
        statements += [(text, {}) for text in slide.get("cypher", [])]
        for name in slide.get("queries", []):
            query = load_query(name)
            statements.append((query.text, query.bind({})))
    return statements


def main(argv: list[str]) -> None:
    target = Path(argv[1]) if len(argv) > 1 else GUIDE_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_guide(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv)
