"""One person's personal data in a small graph, and where to look for it: the privacy
tests (unit, integration and Neo4j tiers) plant these values and search for leaks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.config import Settings, load_settings
from kg.store import GraphStore

# Values that belong to one person only, so that finding one anywhere is a leak.
ZELDA = {
    "id": "zelda-7731",
    "name": "Zelda Quuxington",
    "email": "zelda.quux@example.org",
    "phone": "+44 20 7946 0958",
    "age": 37,
    "birth_date": "1988-03-14",
    "zip_code": "ZX9 4QQ",
    "gender": "F",
    "age_group": "35-44",
}
REVIEW = "Lovely tent. Email me at zelda.quux@example.org or call +44 20 7946 0958 - Zelda Quuxington"


def small_graph(store: GraphStore) -> None:
    """Two people, three items, ratings, and a review naming its author."""
    other = {
        "id": "bob-1",
        "name": "Bob Plainfield",
        "email": "bob@example.org",
        "age": 51,
        "age_group": "45-54",
    }
    store.upsert_nodes("User", pd.DataFrame([ZELDA, other]))
    store.upsert_nodes("Item", pd.DataFrame({"id": ["i1", "i2", "i3"], "name": ["Tent", "Stove", "Lamp"]}))
    store.upsert_relationships(
        "RATED",
        "User",
        "Item",
        pd.DataFrame(
            {
                "from_id": [ZELDA["id"], ZELDA["id"], "bob-1", "bob-1"],
                "to_id": ["i1", "i2", "i1", "i3"],
                "rating": [5.0, 4.0, 3.0, 5.0],
            }
        ),
    )
    extra = [f"x{n}" for n in range(8)]  # enough triples for a KGE model to train on
    store.upsert_nodes("Item", pd.DataFrame({"id": extra, "name": [f"Gadget {n}" for n in range(8)]}))
    store.upsert_relationships(
        "RATED", "User", "Item", pd.DataFrame({"from_id": "bob-1", "to_id": extra, "rating": 4.0})
    )
    store.upsert_nodes("Document", pd.DataFrame({"id": ["r1"], "title": ["Review"], "text": [REVIEW]}))
    store.upsert_relationships(
        "WROTE", "User", "Document", pd.DataFrame({"from_id": [ZELDA["id"]], "to_id": ["r1"]})
    )
    store.upsert_relationships(
        "DESCRIBES", "Document", "Item", pd.DataFrame({"from_id": ["r1"], "to_id": ["i1"]})
    )


def personal_values() -> list[str]:
    """Zelda's values that identify her: none may reach a remote prompt or survive forget."""
    return [ZELDA["name"], ZELDA["email"], ZELDA["phone"], ZELDA["birth_date"], ZELDA["zip_code"], "Zelda"]


def files_holding(folder: Path, needles: list[str]) -> dict[str, list[str]]:
    """Every file under ``folder`` whose bytes contain one of ``needles``."""
    found: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits = [n for n in needles if n.encode() in data]
            if hits:
                found[str(path.relative_to(folder))] = hits
    return found


# A users file for pseudonymised ingest: the same two people.
USERS_CSV = "user_id,email,age_group\nzelda-7731,zelda.quux@example.org,35-44\nbob-1,bob@example.org,45-54\n"
USERS_MAPPING = (
    '[nodes]\nlabel = "User"\nid = "user_id"\nproperties = { email = "email", age_group = "age_group" }\n'
)


def private_settings(root: Path) -> Settings:
    """The store inside the data directory, as by default: one folder to search."""
    return load_settings(store=str(root / "kg-data" / "graph"), data_dir=root / "kg-data")
