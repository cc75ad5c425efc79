"""The Docker setup and the Browser guide, checked as files (Docker does not run in CI):
no password in the repository, every variable documented, the guide current."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import yaml

from cypher import list_queries
from cypher.guide import GUIDE_FILE, render_guide
from tests.helpers import ROOT

DOCKER = ROOT / "docker"
README = DOCKER.parent / "README.md"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text("utf-8"))


def test_compose_runs_neo4j5_with_apoc_browser_bolt_volumes_and_a_healthcheck() -> None:
    neo4j = _compose()["services"]["neo4j"]
    assert re.fullmatch(r"neo4j:5[.\d]*-community", neo4j["image"])
    assert {"127.0.0.1:7474:7474", "127.0.0.1:7687:7687"} <= set(neo4j["ports"])
    env = neo4j["environment"]
    assert env["NEO4J_PLUGINS"] == '["apoc"]'
    assert {"NEO4J_server_memory_heap_max__size", "NEO4J_server_memory_pagecache_size"} <= set(env)
    assert {v.split(":")[1] for v in neo4j["volumes"]} >= {"/data", "/logs"}
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"])


def test_no_password_in_the_repository_and_every_variable_documented() -> None:
    text = (DOCKER / "compose.yml").read_text("utf-8")
    assert "${KG_NEO4J_PASSWORD:?" in text  # compose refuses to start without it
    documented = dict(
        line.split("=", 1)
        for line in (DOCKER / ".env.example").read_text("utf-8").splitlines()
        if re.match(r"^[A-Z0-9_]+=", line)
    )
    assert documented["KG_NEO4J_PASSWORD"] == ""
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", text))  # $${...} is escaped: read in the container
    assert used <= set(documented), sorted(used - set(documented))
    kg = _compose()["services"]["kg"]
    assert kg["environment"]["KG_STORE"] == "bolt://neo4j:7687"
    assert kg["depends_on"]["neo4j"]["condition"] == "service_healthy"


def test_compose_serves_the_api_on_localhost_with_keys_from_the_env_file() -> None:
    text = (DOCKER / "compose.yml").read_text("utf-8")
    serve = _compose()["services"]["kg-serve"]
    assert serve["command"][:1] == ["serve"] and "--host" in serve["command"]
    assert serve["ports"] == ["127.0.0.1:8080:8080"]  # published on this machine only
    env = serve["environment"]
    assert env["KG_STORE"] == "bolt://neo4j:7687"
    assert "${KG_API_KEYS:?" in text  # no key, no server: compose refuses to start it
    assert {"KG_API_KEYS", "KG_API_WRITE_KEYS", "KG_CORS_ORIGINS"} <= set(env)
    assert serve["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert "/health" in " ".join(serve["healthcheck"]["test"])


def test_the_guide_is_current_and_every_runnable_block_is_a_library_query_or_param() -> None:
    assert GUIDE_FILE.read_text("utf-8") == render_guide(), "run: python -m cypher.guide"

    class Blocks(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.blocks: list[str] = []
            self.slides = 0
            self._in = False

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.slides += tag == "slide"
            self._in = tag == "pre" and "runnable" in dict(attrs).get("class", "")
            if self._in:
                self.blocks.append("")

        def handle_data(self, data: str) -> None:
            if self._in:
                self.blocks[-1] += data

        def handle_endtag(self, tag: str) -> None:
            self._in = self._in and tag != "pre"

    parser = Blocks()
    parser.feed(GUIDE_FILE.read_text("utf-8"))
    assert parser.slides >= 5
    library = {q.text for q in list_queries()}
    queries = [b for b in parser.blocks if not b.startswith(":param")]
    assert len(set(queries) & library) >= 15
    assert all(
        line.startswith(":param ") for b in parser.blocks if b.startswith(":param") for line in b.splitlines()
    )
    nginx = (DOCKER / "guide-nginx.conf").read_text("utf-8")
    assert "Access-Control-Allow-Origin" in nginx


def test_the_env_example_says_the_password_may_not_hold_a_slash() -> None:
    """The image's entrypoint reads NEO4J_AUTH=neo4j/<password> with
    ^([^/]+)/([^/]+)/?(true)?$: a '/' in the password stops the container (defect 17)."""
    example = (DOCKER / ".env.example").read_text("utf-8")
    assert "no '/'" in example
    section = README.read_text("utf-8")
    assert "no '/'" in section[section.index("## Use Neo4j") :]


def test_readme_neo4j_section_has_every_step() -> None:
    text = README.read_text("utf-8")
    section = text[text.index("## Use Neo4j") :]
    section = section[: section.index("\n## ", 5)]
    for step in (
        "cp docker/.env.example docker/.env",
        "docker compose -f docker/compose.yml up -d",
        "KG_STORE=bolt://localhost:7687",
        "http://localhost:7474",
        ":guide http://localhost:8001/kg-guide.html",
        "export --format neo4j-admin",
        "neo4j-admin database import full",
        "KG_NEO4J_URI=bolt://localhost:7687",
    ):
        assert step in section, step
