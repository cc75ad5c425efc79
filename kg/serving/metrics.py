"""Prometheus metrics of one server: requests by route template and status, latency
histograms, model age, events folded and written, refits.

Routes are labelled by their template (``/recommendations/{user_id}``), never by the
path: user ids are personal data and would also make a time series per user.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """The metrics of one app (its own registry, so several apps in one process never mix)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kg_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kg_http_request_seconds",
            "Time to answer a request.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events_applied = Counter(
            "kg_events_applied", "Events folded into users' histories.", registry=self.registry
        )
        self.events_written = Counter(
            "kg_events_written", "Events written to the graph.", registry=self.registry
        )
        self.refits = Counter("kg_model_refits", "Background refits.", ["outcome"], registry=self.registry)
        self.model_age = Gauge(
            "kg_model_age_seconds", "Seconds since the served model was fitted.", registry=self.registry
        )
        self.events_pending = Gauge(
            "kg_events_pending", "Events accepted, not yet written to the graph.", registry=self.registry
        )

        self.cache_hits = Gauge(
            "kg_answer_cache_hits",
            "Recommendation answers reused (same model and history).",
            registry=self.registry,
        )
        self.cache_misses = Gauge(
            "kg_answer_cache_misses", "Recommendation answers computed.", registry=self.registry
        )

    def watch(
        self, model_age: Callable[[], float], pending: Callable[[], int], cache: Callable[[], tuple[int, int]]
    ) -> None:
        self.model_age.set_function(model_age)
        self.events_pending.set_function(pending)
        self.cache_hits.set_function(lambda: cache()[0])
        self.cache_misses.set_function(lambda: cache()[1])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
