"""The HTTP API: routes over the live model, the event writer and the refit.

``build_server`` loads the model and wires the parts; ``create_app`` turns them into a
FastAPI application. Every error a client can cause is a 4xx with a sentence saying
what to change: request checks by pydantic (422), unknown ids (404), bad values (400),
missing keys (401), a read key on a write endpoint (403), bodies too large (413).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse

from kg.config import Settings
from kg.errors import InputError, KGError, NotFoundError, StoreError
from kg.recommend.filters import ItemFilter
from kg.schema import Schema
from kg.serving.auth import Access, ApiKeys
from kg.serving.compute import Compute
from kg.serving.config import ServeSettings
from kg.serving.events import EventWriter, check_events, make_writer
from kg.serving.limits import RequestLimits
from kg.serving.live import LiveModel, Record, Snapshot, UserHistory, records
from kg.serving.metrics import MetricsMiddleware, ServerMetrics
from kg.serving.refit import Refitter, load_snapshot
from kg.serving.schemas import (
    Audience,
    AudienceMember,
    ErrorResponse,
    Event,
    EventsAccepted,
    ExplanationResponse,
    Health,
    Identifier,
    Recommendations,
    RecommendedItem,
    SimilarItems,
)

MAX_K = 1000
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": what}
    for status, what in {
        400: "A value the graph cannot use (the detail says which and why).",
        401: "No valid API key in X-API-Key.",
        404: "An unknown item, category, brand, genre or segment (named in the detail).",
        413: "Request body too large.",
        503: "The graph store is busy or unreachable.",
        504: "The request took longer than the server's timeout.",
    }.items()
}
# The same errors for a route whose own responses are not JSON (/metrics): errors still are.
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": error["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for status, error in ERRORS.items()
}
STATUS_OF: dict[type[KGError], int] = {NotFoundError: 404, StoreError: 503}


@dataclass
class Server:
    """Everything one running API holds."""

    settings: Settings
    serve: ServeSettings
    live: LiveModel
    writer: EventWriter
    refitter: Refitter
    metrics: ServerMetrics
    schema: Schema


def build_server(settings: Settings, serve: ServeSettings, snapshot: Snapshot | None = None) -> Server:
    """Load (or fit) the recommender and wire the writer, the refit and the metrics."""
    serve.check_keys()
    live = LiveModel(snapshot or load_snapshot(settings, score_table_mb=serve.serve_score_table_mb))
    metrics = ServerMetrics()
    refitter: Refitter | None = None

    def written(count: int) -> None:
        metrics.events_written.inc(count)
        if refitter is not None:
            refitter.events_written(count)

    writer = make_writer(settings, serve.serve_flush_s, written)
    refitter = Refitter(
        settings,
        live,
        lambda: writer.written_through,
        interval=serve.serve_refit_s,
        every_events=serve.serve_refit_events,
        score_table_mb=serve.serve_score_table_mb,
        on_refit=lambda outcome: metrics.refits.labels(outcome).inc(),
    )
    metrics.watch(lambda: live.age_s, lambda: writer.pending, lambda: (live.cache_hits, live.cache_misses))
    return Server(settings, serve, live, writer, refitter, metrics, Schema.default(settings.schema_extension))


def create_app(server: Server) -> FastAPI:
    """The FastAPI application of ``server`` (its OpenAPI spec at /openapi.json)."""

    compute = Compute()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        server.writer.start()
        server.refitter.start()
        try:
            yield
        finally:
            server.refitter.close()
            server.writer.close()
            compute.close()

    app = FastAPI(
        title="kg serve",
        summary="Recommendations, similar items, audiences and explanations from the knowledge graph.",
        version="1",
        lifespan=lifespan,
        responses=ERRORS,
    )
    keys = ApiKeys(server.serve)
    read = [Depends(keys.dependency(Access.READ))]
    write = [Depends(keys.dependency(Access.WRITE))]
    live = server.live

    @app.exception_handler(KGError)
    async def _kg_error(_: Request, exc: KGError) -> JSONResponse:
        status = next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/recommendations/{user_id}", dependencies=read, response_model=Recommendations)
    async def recommendations(
        user_id: Annotated[Identifier, Path(description="User id; unknown users get cold-start items.")],
        filters: Annotated[ItemFilter, Depends(item_filter)],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="How many items.")] = 10,
        explain: Annotated[bool, Query(description="Add the reason and the Cypher path.")] = False,
    ) -> Response:
        """Top-k items the user has not interacted with, events since the fit included."""
        body = live.cached_answer(user_id, k, filters, explain=explain)
        if body is None:
            body = await compute.run(
                live.recommend, user_id, k, filters, explain=explain, render=render_recommendations
            )
        return Response(body, media_type="application/json")

    @app.get("/similar/{item_id}", dependencies=read, response_model=SimilarItems)
    async def similar(
        item_id: Annotated[Identifier, Path(description="Item id.")],
        filters: Annotated[ItemFilter, Depends(item_filter)],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        explain: Annotated[bool, Query()] = False,
    ) -> SimilarItems:
        """Items to show beside this one (co-interaction, shared attributes, text)."""
        snapshot, frame = await compute.run(live.similar, item_id, k, filters, explain=explain)
        graph = snapshot.recommender.graph
        return SimilarItems(
            item=item_id,
            name=graph.item_name(graph.item_index(item_id)),
            model=snapshot.model_name,
            items=[RecommendedItem(**row) for row in records(frame)],
        )

    @app.get("/audience", dependencies=read, response_model=Audience)
    async def audience(
        item: Annotated[Identifier | None, Query(description="Target one item (its id).")] = None,
        tag: Annotated[
            Identifier | None,
            Query(description="Target a category, brand or genre (id or name; Label:name)."),
        ] = None,
        segment: Annotated[
            Identifier | None, Query(description="Only users of this segment (`kg segment`), by id or name.")
        ] = None,
        k: Annotated[int, Query(ge=1, le=MAX_K, description="How many users.")] = 20,
        explain: Annotated[bool, Query()] = True,
    ) -> Audience:
        """The users most likely to convert on an item or a category/brand/genre."""
        if (item is None) == (tag is None):
            raise_input("Give exactly one target: item=<item id> or tag=<category, brand or genre>.")
        target = f"Item:{item}" if item is not None else str(tag)
        snapshot, description, frame = await compute.run(live.audience, target, segment, k, explain=explain)
        members = [AudienceMember(**row) for row in records(frame)]
        return Audience(target=description, segment=segment, model=snapshot.model_name, users=members)

    @app.get("/explain/{user_id}/{item_id}", dependencies=read, response_model=ExplanationResponse)
    async def explain(
        user_id: Annotated[Identifier, Path()], item_id: Annotated[Identifier, Path()]
    ) -> ExplanationResponse:
        """Why this item suits this user: the strongest graph path, in words and as Cypher."""
        snapshot, user, found = await compute.run(live.explain, user_id, item_id)
        graph = snapshot.recommender.graph
        return ExplanationResponse(
            user=user_id,
            item=item_id,
            name=graph.item_name(graph.item_index(item_id)),
            cold_start=user.cold,
            reason=found.reason,
            signal=found.signal,
            cypher=found.inline(),
        )

    @app.post("/events", dependencies=write, response_model=EventsAccepted, status_code=202)
    async def events(
        body: Annotated[Event | list[Event], "One event, or a JSON array of events"],
    ) -> EventsAccepted:
        """Interactions as they happen: folded into the users' histories at once (the next
        response reflects them), written to the graph, and learnt from at the next refit."""
        return await run_in_threadpool(accept_events, body if isinstance(body, list) else [body])

    def accept_events(batch: list[Event]) -> EventsAccepted:
        if not batch or len(batch) > server.serve.serve_max_events:
            raise_input(f"Send between 1 and {server.serve.serve_max_events:,} events per request.")
        check_events(server.schema, batch)
        live.check_items(event.item for event in batch)
        last = live.fold((event.user, event.item) for event in batch)
        server.metrics.events_applied.inc(len(batch))
        server.writer.submit(last, batch)
        return EventsAccepted(accepted=len(batch), pending=server.writer.pending)

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        """Liveness and the served model (no key needed; nothing personal in it)."""
        snapshot = live.snapshot
        return Health(
            status="ok",
            model=snapshot.model_name,
            model_created_at=snapshot.recommender.created_at,
            model_age_s=round(live.age_s, 3),
            users=snapshot.recommender.graph.n_users,
            items=snapshot.recommender.graph.n_items,
            events_pending=server.writer.pending,
            events_folded=live.folded,
        )

    @app.get(
        "/metrics",
        dependencies=read,
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **JSON_ERRORS},
    )
    async def metrics() -> PlainTextResponse:
        """Prometheus text format: requests, latency, model age, events applied and written."""
        return PlainTextResponse(server.metrics.exposition(), media_type="text/plain; version=0.0.4")

    if server.serve.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=server.serve.origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.add_middleware(
        RequestLimits,
        max_body_bytes=server.serve.serve_max_body_bytes,
        timeout_s=server.serve.serve_timeout_s,
    )
    app.add_middleware(MetricsMiddleware, metrics=server.metrics)
    return app


def render_recommendations(snapshot: Snapshot, user: UserHistory, answer: list[Record]) -> bytes:
    """The body of ``GET /recommendations``, checked by its response model and rendered
    once: the server keeps these bytes and sends them again while they are current."""
    return (
        Recommendations(
            user=user.user_id,
            known_user=user.known,
            cold_start=user.cold,
            events_folded=user.folded,
            model=snapshot.model_name,
            items=[RecommendedItem(**row) for row in answer],
        )
        .model_dump_json()
        .encode()
    )


async def item_filter(
    category: Annotated[
        Identifier | None, Query(description="Category (with sub-categories), id or name.")
    ] = None,
    brand: Annotated[Identifier | None, Query(description="Brand, id or name.")] = None,
    genre: Annotated[Identifier | None, Query(description="Genre, id or name.")] = None,
    min_price: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    max_price: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    in_stock: Annotated[bool, Query(description="Only items marked in stock.")] = False,
) -> ItemFilter:
    """The business filters of `kg recommend`, as query parameters."""
    return ItemFilter(category, brand, genre, min_price, max_price, in_stock)


def raise_input(message: str) -> None:
    raise InputError(message)
