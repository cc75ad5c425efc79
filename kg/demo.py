"""``kg demo``: the whole product on a generated shop, with nothing to download.

Each stage is a plain function over the store; the demo only strings them together and
shows what each produced.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from cypher import load_query
from kg.config import Settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop
from kg.ingest import ingest_path
from kg.progress import rich_progress
from kg.render import counts_table, frame_table, ingest_table
from kg.store import GraphStore, open_store


def run_demo(settings: Settings, console: Console, *, size: ShopSize | None = None, seed: int = 7) -> None:
    """Generate the shop, load it, and show the graph and a few analyst queries."""
    started = time.perf_counter()
    shop_dir = settings.data_dir / "demo-shop"
    console.rule("[bold]1. Generate a synthetic shop")
    files = generate_shop(shop_dir, size or ShopSize(), seed=seed)
    console.print(f"Wrote {len(files)} files and their mappings to {shop_dir}")
    with open_store(settings) as store:
        console.rule(f"[bold]2. Ingest into the {store.name} store at {settings.store}")
        _ingest_shop(store, files, settings, console)
        console.print(counts_table(store.counts()))
        console.rule("[bold]3. Ask the graph")
        for name in ("top-customers", "co-purchase-pairs"):
            query = load_query(name)
            frame = store.query(query.text, query.bind({"k": "5"}))
            console.print(frame_table(frame, title=f"{name}: {query.description}"))
        console.rule("[bold]4. Extract facts from product descriptions and reviews")
        _extract_text(store, settings, shop_dir, console)
    console.rule(f"[bold green]Demo finished in {time.perf_counter() - started:.0f}s")
    console.print(f"Explore it: kg stats, kg query top-customers --param k=20 (store: {settings.store})")


def _ingest_shop(store: GraphStore, files: list[tuple[Path, Path]], settings: Settings, console: Console) -> None:
    for data_file, mapping in files:
        with rich_progress(console) as progress:
            report = ingest_path(store, data_file, mapping=mapping, batch_size=settings.batch_size, progress=progress)
        console.print(ingest_table(report, data_file.name))
        for line in report.summary_lines():
            console.print(f"[yellow]{line}")


def _extract_text(store: GraphStore, settings: Settings, shop_dir: Path, console: Console) -> None:
    """Descriptions and reviews become Documents whose brands, materials, categories and
    places link to the catalogue (a trained joint model is used only if one exists)."""
    from kg.extract import Extractor, extract_graph_text, extract_path, find_model
    from kg.extract.report import extract_table

    extractor = Extractor(settings, store, find_model(settings))
    with rich_progress(console) as progress:
        descriptions = extract_graph_text(
            store, settings, "Item", "description", progress=progress, extractor=extractor
        )
        reviews = extract_path(
            store,
            settings,
            shop_dir / "reviews.jsonl",
            about_field="sku",
            progress=progress,
            extractor=extractor,
        )
    console.print(extract_table(descriptions, "Item.description"), extract_table(reviews, "reviews.jsonl"))
    for line in descriptions.summary_lines() + reviews.summary_lines():
        console.print(f"[yellow]{line}")
    brands = store.query(
        "MATCH (d:Document)-[:DESCRIBES]->(:Item), (d)-[:MENTIONS]->(b:Brand) "
        "RETURN b.name AS brand, count(DISTINCT d) AS documents ORDER BY documents DESC, brand LIMIT 5"
    )
    console.print(
        frame_table(brands, title="Brands most talked about (any spelling, linked to the catalogue)")
    )
