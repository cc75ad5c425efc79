"""``kg demo``: the whole product on a generated shop, with nothing to download.

Each stage is a plain function over the store; the demo only strings them together and
shows what each produced.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from cypher import load_query
from kg.config import Settings
from kg.datasets.synthetic_shop import ShopSize, generate_shop, review_files
from kg.ingest import ingest_path
from kg.progress import rich_progress
from kg.render import counts_table, frame_table, ingest_table
from kg.store import GraphStore, open_store

# The demo describes the catalogue (users' text is their purchases, which the model sees
# anyway) and caps training so the stage stays around a minute on two cores.
DEMO_TEXT_LABELS = ("Item", "Brand", "Category", "Material")
DEMO_EPOCHS = 60
DEMO_CAMPAIGN = "demo-spring"
DEMO_ARMS = "control,copy-a:friendly,copy-b:urgent"
DEMO_UPLIFT = {"copy-a": 0.1, "copy-b": 0.6}  # the simulation's true relative uplift per arm


def run_demo(settings: Settings, console: Console, *, size: ShopSize | None = None, seed: int = 7) -> None:
    """Generate the shop, load it, and show the graph and a few analyst queries."""
    started = time.perf_counter()
    shop_dir = settings.data_dir / "demo-shop"
    console.rule("[bold]1. Generate a synthetic shop")
    files = [*generate_shop(shop_dir, size or ShopSize(), seed=seed), review_files(shop_dir)]
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
        console.rule("[bold]5. Describe nodes and learn text-aware graph embeddings")
        _embed_graph(store, settings, console)
        console.rule("[bold]6. Recommend, explain, target and segment")
        _recommend_and_target(store, settings, console)
        console.rule("[bold]7. Understand users: review sentiment, a profile with interest tags, kg ask")
        _understand_users(store, settings, console)
        console.rule("[bold]8. A campaign: copy per arm, simulated outcomes, the report")
        _campaign(store, settings, shop_dir, console)
    console.rule(f"[bold green]Demo finished in {time.perf_counter() - started:.0f}s")
    console.print(f"Explore it: kg stats, kg query top-customers --param k=20 (store: {settings.store})")


def _ingest_shop(
    store: GraphStore, files: list[tuple[Path, Path]], settings: Settings, console: Console
) -> None:
    for data_file, mapping in files:
        with rich_progress(console) as progress:
            report = ingest_path(
                store, data_file, mapping=mapping, batch_size=settings.batch_size, progress=progress
            )
        console.print(ingest_table(report, data_file.name))
        for line in report.summary_lines():
            console.print(line, style="yellow", markup=False)  # lines quote file names and values


def _extract_text(store: GraphStore, settings: Settings, shop_dir: Path, console: Console) -> None:
    """Descriptions and reviews become Documents whose brands, materials, categories and
    places link to the catalogue (a trained joint model is used only if one exists)."""
    from kg.extract import Extractor, ReadOptions, extract_graph_text, extract_path, find_model
    from kg.extract.tables import extract_table

    extractor = Extractor(settings, store, find_model(settings))
    with rich_progress(console) as progress:
        descriptions = extract_graph_text(
            store, settings, "Item", "description", progress=progress, extractor=extractor
        )
        reviews = extract_path(
            store,
            settings,
            shop_dir / "reviews.jsonl",
            ReadOptions(about_field="sku"),
            progress=progress,
            extractor=extractor,
        )
    console.print(extract_table(descriptions, "Item.description"), extract_table(reviews, "reviews.jsonl"))
    for line in descriptions.summary_lines() + reviews.summary_lines():
        console.print(line, style="yellow", markup=False)
    brands = store.query(
        "MATCH (d:Document)-[:DESCRIBES]->(:Item), (d)-[:MENTIONS]->(b:Brand) "
        "RETURN b.name AS brand, count(DISTINCT d) AS documents ORDER BY documents DESC, brand LIMIT 5"
    )
    console.print(
        frame_table(brands, title="Brands most talked about (any spelling, linked to the catalogue)")
    )


def _embed_graph(store: GraphStore, settings: Settings, console: Console) -> None:
    """`kg enrich` on the catalogue (facts from each node's neighbourhood -> MiniLM vectors),
    `kg train --text` (DistMult fused with those vectors, evaluated, registered, written
    back as embedding_distmult) and `kg predict` for one customer."""
    from embeddings.enrich import enrich_store
    from embeddings.predict import predict_links
    from embeddings.tables import enrich_table, metrics_table
    from embeddings.workflow import train_from_store

    with rich_progress(console) as progress:
        enriched = enrich_store(settings, store, labels=DEMO_TEXT_LABELS, progress=progress)
    console.print(enrich_table(enriched))
    with rich_progress(console) as progress:
        report = train_from_store(settings, store, text=True, progress=progress, num_epochs=DEMO_EPOCHS)
    console.print(
        metrics_table(report.trained, f"Trained {report.trained.run_id} on {report.triples:,} triples")
    )
    user = "User:U00001"
    predicted = predict_links(report.trained, store, head=user, relation="PURCHASED", k=5)
    console.print(frame_table(predicted, title=f"kg predict {user} PURCHASED: likely next purchases"))


def _recommend_and_target(store: GraphStore, settings: Settings, console: Console) -> None:
    """Fit the fused recommender, explain two users' recommendations, write them all back,
    find an audience for one product and segment the customers."""
    from kg.recommend.audience import consented_audience
    from kg.recommend.segments import segment_graph
    from kg.recommend.service import load_recommender, write_all_recommendations
    from kg.recommend.tables import cypher_panel, print_notes, recommendations_table

    with rich_progress(console) as progress:
        recommender = load_recommender(store, settings, progress=progress)
    print_notes(console, recommender.notes)
    weights = ", ".join(f"{name} {w:g}" for name, w in recommender.weights.items() if w > 0)
    console.print(f"Fusion weights learned on a validation split: {weights}")
    graph = recommender.graph
    activity = graph.matrix.sum(axis=1).A1
    by_activity = np.argsort(-activity, kind="stable")
    samples = [graph.user_ids[i] for i in by_activity[[len(activity) // 4, len(activity) // 2]]]
    for user in samples:
        frame = recommender.recommend(user, 5)
        console.print(recommendations_table(frame.drop(columns=["user"]), f"Recommendations for {user}"))
    console.print(cypher_panel(frame.head(1)))
    with rich_progress(console) as progress:
        written = write_all_recommendations(store, recommender, progress=progress)
    console.print(
        f"Wrote {written:,} RECOMMENDED edges ({recommender.name}); see: kg query user-recommendations"
    )
    product = graph.item_ids[np.argsort(-graph.item_popularity, kind="stable")[len(graph.item_ids) // 10]]
    targets, _ = consented_audience(store, settings, recommender, product, 10, explain=True)
    targets = targets.drop(columns=["item"])
    title = f"Audience for {graph.item_name(graph.item_index(product))} ({product})"
    console.print(recommendations_table(targets, title))
    segmentation, table, notes = segment_graph(store, settings, 8)
    print_notes(console, notes)
    console.print(frame_table(table, title=f"Customer segments ({segmentation.model})"))


def _understand_users(store: GraphStore, settings: Settings, console: Console) -> None:
    """`kg sentiment score` (VADER unless a classifier was trained), `kg profile --all`,
    one customer's profile and a `kg ask` question re-ranked for them."""
    from kg.ask.search import Catalogue, ask, user_interests
    from kg.understand.profiles import build_profiles, write_profiles
    from kg.understand.reviews import score_reviews
    from kg.understand.sentiment import load_model
    from kg.understand.tables import profile_tables

    report = score_reviews(store, load_model(settings))
    opinions = ", ".join(f"{n:,} {label}" for label, n in report.opinions.items())
    console.print(f"Scored {report.reviews:,} reviews with {report.model}; OPINION edges: {opinions}")
    profiles = build_profiles(store)
    written = write_profiles(store, profiles)
    console.print(f"Profiled {len(profiles):,} users; {written:,} INTERESTED_IN tags (kg query users-by-tag)")
    if "U00001" in profiles:
        console.print(*profile_tables(profiles["U00001"]))
        question = "waterproof jacket under 150"
        result = ask(Catalogue.from_store(store, settings), question, 5, user_interests(store, "U00001"))
        understood = "; ".join(result.intent.describe())
        console.print(
            f"kg ask {question!r} --user U00001: understood {understood}; unknown: {', '.join(result.unknown) or '-'}"
        )
        console.print(frame_table(result.answers.drop(columns="path"), title="Answers, with their reasons"))


def _campaign(store: GraphStore, settings: Settings, shop_dir: Path, console: Console) -> None:
    """`kg campaign create` for the largest segment and its favourite category, template
    copy for each arm (`kg copy --campaign`), outcomes simulated with a known uplift and
    loaded with `kg ingest`, then `kg campaign report` and the feedback."""
    from kg.marketing.assignment import parse_arms
    from kg.marketing.campaigns import Campaign, create_campaign
    from kg.marketing.copy_facts import segment_favourite
    from kg.marketing.events import write_event_files
    from kg.marketing.feedback import feed_back_outcomes
    from kg.marketing.report import campaign_report, print_report
    from kg.marketing.service import CopyRequest, write_copy
    from kg.marketing.simulation import TrueResponse, simulate_outcomes, true_uplift

    segment, target = segment_favourite(store, "segment-1")
    arms = tuple(parse_arms(DEMO_ARMS, None, settings.marketing.control_arm))
    spec = Campaign(
        DEMO_CAMPAIGN, DEMO_CAMPAIGN, target, arms, settings.marketing.control_arm, segment=segment
    )
    with rich_progress(console) as progress:
        created = create_campaign(store, settings, spec, progress=progress)
        copy = write_copy(store, settings, CopyRequest(campaign=DEMO_CAMPAIGN, backend="template"), progress)
    console.print(
        f"Campaign {DEMO_CAMPAIGN}: {target} for {segment}, {created.assigned + created.kept:,} customers in "
        f"arms {', '.join(a.name for a in arms)}; {len(copy.messages):,} Message nodes written"
    )
    for line in copy.run.summary_lines():
        console.print(line, markup=False)
    for arm in arms[1:]:
        sample = copy.messages[copy.messages["arm"] == arm.name].head(1)
        for text in sample["text"]:
            console.print(f"[bold]{arm.name} ({arm.tone}):[/] {escape(text)}")
    response = TrueResponse({"": 0.08}, DEMO_UPLIFT, {"copy-a": 0.04, "copy-b": 0.06})
    events = simulate_outcomes(store, spec, response, seed=7)
    for data_file, mapping in write_event_files(shop_dir / "campaign-events", events):
        ingest_path(store, data_file, mapping=mapping, batch_size=settings.batch_size)
    truth = ", ".join(f"{arm} {value:+.2%}" for arm, value in true_uplift(store, spec, response).items())
    print_report(console, campaign_report(store, settings, DEMO_CAMPAIGN))
    console.print(f"The simulation's true CVR uplift: {truth}")
    written = feed_back_outcomes(store, settings, DEMO_CAMPAIGN)
    console.print("Fed back as interactions: " + ", ".join(f"{n:,} new {rel}" for rel, n in written.items()))
