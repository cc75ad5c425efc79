"""Schemathesis against the spec the server publishes: generated requests (valid and
invalid) to every operation of a real uvicorn server on loopback. No response may be a
500, and every response must match the spec: a documented status, content type and body
schema. Bounded (few examples per operation, no shrinking) so it runs in CI in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serve_shop import WRITE_KEY, running_server, serve_settings, shop_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    served = shop_settings(tmp_path_factory.mktemp("serve-fuzz"))
    with running_server(served, serve_settings(serve_flush_s=0.05)) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_500_and_every_response_matches_the_spec(
    api_schema: schemathesis.BaseSchema, base_url: str, mode: schemathesis.GenerationMode
) -> None:
    """Valid requests (positive) and requests that break the spec (negative), per operation."""
    headers = {"X-API-Key": WRITE_KEY}
    tried: list[str] = []
    for operation in operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=25,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

        try:
            call()
        except Unsatisfiable:  # nothing in this operation's spec to break (GET /health)
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            continue
        tried.append(operation.label)
    assert {"GET /recommendations/{user_id}", "POST /events", "GET /audience"} <= set(tried)
