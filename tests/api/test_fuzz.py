"""A fuzzing pass over the whole API from its own OpenAPI schema, against a live server.

schemathesis turns each operation of ``/openapi.json`` into a Hypothesis
strategy of requests, valid ones (positive) and ones that break the schema
(negative: out-of-range integers, wrong types, missing parts...), and each
request goes to a real uvicorn on 127.0.0.1. Whatever a client sends, the
answer must not be a 5xx. Bounded: a fixed number of examples per operation
and a deadline per example, so the pass takes seconds.

Random examples find a huge integer only now and then (about one in 200 for
an unbounded one), so every parameter the schema declares also gets a fixed
sweep of hostile values: integers past SQLite's 64 bits, NUL, traversal, a
right-to-left override, non-ASCII digits, a very long string.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from langflix.api.app import create_app

from .helpers import LiveServer, start_server

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40
"""Per operation, half of them valid requests and half invalid ones."""

OPERATIONS = sorted(
    f"{method.upper()} {path}" for path, item in create_app().openapi()["paths"].items() for method in item
)
"""Every operation the app declares (read from the app itself: no server needed to list them)."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("fuzz"), upload_idle_timeout=5.0)
    yield server
    server.stop()
    assert server.settings.temp_dir is not None
    assert list(Path(server.settings.temp_dir).iterdir()) == [], "the fuzzing pass left temp files behind"


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    served = sorted(result.ok().label for result in api_schema.get_all_operations())
    assert served == OPERATIONS and len(OPERATIONS) >= 7


HOSTILE_INTEGERS = (2**63, -(2**63) - 1, 10**30, -1, 0)
HOSTILE_STRINGS = ("\x00", "../../data/jobs.db", "%00", "\u202e", "\u0663", "a" * 5000, " ", "")


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_hostile_parameter_makes_a_server_error(
    api_schema: schemathesis.BaseSchema, live: LiveServer, label: str
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None
    path_params = {p.name: "x" for p in operation.path_parameters}
    for parameter in [*operation.query, *operation.path_parameters]:
        schema = parameter.definition["schema"]
        kinds = {branch.get("type") for branch in schema.get("anyOf", [schema])}
        values: tuple[object, ...] = HOSTILE_INTEGERS if "integer" in kinds else HOSTILE_STRINGS
        for value in values:
            if parameter.location == "path":
                if value == "":
                    continue  # an empty path segment is another route, not this parameter
                case = operation.Case(path_parameters=path_params | {parameter.name: value})
            else:
                case = operation.Case(path_parameters=path_params, query={parameter.name: value})
            case.call_and_validate(base_url=live.base_url, checks=[not_a_server_error], timeout=60)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_request_makes_a_server_error(api_schema: schemathesis.BaseSchema, live: LiveServer, label: str) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None
    cases = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(max_examples=MAX_EXAMPLES, deadline=30_000, database=None, suppress_health_check=list(HealthCheck))
    def no_server_error(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live.base_url, checks=[not_a_server_error], timeout=60)

    no_server_error()
