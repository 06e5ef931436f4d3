"""The OpenAPI document, built from the same route table the app registers and from the pydantic models,
so the document, the server and the TypeScript types generated from it cannot drift apart."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .._version import __version__
from ..runner.protocol import FINAL_STATUSES, Status
from ..service.schemas import Event
from .models import ErrorBody

REF = "#/components/schemas/{model}"
_DESCRIPTIONS = {400: "Unreadable request (malformed JSON, checksum mismatch)",
                 403: "Not authenticated or not authorized", 404: "No such run, schedule, blob or file",
                 409: "Conflicts with the run's state", 413: "Over the server's size limit",
                 422: "A field has a wrong value or type (see `field`)",
                 502: "The executor's engine (Docker, Ray, Slurm) cannot be reached"}


#: One server-sent event (before OpenAPI 3.2 an event stream's `schema` describes each event).
_SSE_EVENT = {"type": "object", "properties": {
    "data": {"type": "string", "description": "One line of events.jsonl (a JSON object)."},
    "id": {"type": "string", "description": "The byte offset to resume from."},
    "event": {"type": "string"}, "retry": {"type": "integer"}}}

def _models(routes) -> tuple[list[type[BaseModel]], list[type[BaseModel]]]:
    # Event: the lines of events.jsonl (pages and the live stream carry them), with the protocol's types.
    bodies, responses = [], [ErrorBody, Event]
    for route in routes:
        for op in route.ops.values():
            if isinstance(op.body, type) and op.body not in bodies:
                bodies.append(op.body)
            if isinstance(op.response, type) and op.response not in responses:
                responses.append(op.response)
    return bodies, responses


_CACHE: dict[tuple[int, str], dict] = {}


def build_openapi(routes, base_url: str = "/") -> dict:
    key = (id(routes), base_url)
    if key not in _CACHE:
        _CACHE[key] = _build(routes, base_url)
    return _CACHE[key]


def _build(routes, base_url: str) -> dict:
    from .routes import PARAMS

    bodies, responses = _models(routes)
    keyed = [(m, "validation") for m in bodies] + [(m, "serialization") for m in responses]
    refs, defs = models_json_schema(keyed, ref_template=REF)
    paths: dict[str, dict] = {}
    for route in routes:
        item = paths.setdefault(route.path, {})
        path_params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
                        "description": PARAMS[name][1]} for name in route.params]
        for method, op in route.ops.items():
            params = list(path_params)
            params += [{"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
                       for n, t, d in op.query]
            params += [{"name": n, "in": "header", "required": False, "schema": {"type": "string"},
                        "description": d} for n, d in op.headers]
            entry: dict = {
                "operationId": f"{method}{route.handler.__name__.removesuffix('Handler')}",
                "summary": op.summary,
                "tags": ["jobs"],
                "parameters": params,
                "responses": {},
            }
            if isinstance(op.body, type):
                entry["requestBody"] = {"required": op.body_required, "content": {
                    "application/json": {"schema": refs[(op.body, "validation")]}}}
            elif isinstance(op.body, str):
                entry["requestBody"] = {"required": True, "content": {
                    op.body: {"schema": {"type": "string", "format": "binary"}}}}
            ok: dict = {"description": op.summary}
            if isinstance(op.response, type):
                ok["content"] = {op.media: {"schema": refs[(op.response, "serialization")]}}
            elif op.media and op.status != 204 and method != "head":
                schema = {"type": "object"} if op.media == "application/json" else \
                    _SSE_EVENT if op.media == "text/event-stream" else \
                    {"type": "string"} if op.media.startswith("text/") else {"type": "string", "format": "binary"}
                ok["content"] = {op.media: {"schema": schema}}
            entry["responses"][str(op.status)] = ok
            if op.status == 201 and method == "post":  # an idempotent replay answers 200
                entry["responses"]["200"] = {"description": "Replayed: the run first made with this key",
                                             "content": ok.get("content", {})}
            for code in op.errors:
                entry["responses"][str(code)] = {"description": _DESCRIPTIONS[code], "content": {
                    "application/json": {"schema": refs[(ErrorBody, "serialization")]}}}
            item[method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "jupyter-jobs", "version": __version__,
                 "description": "Run notebook cells, notebooks and scripts as jobs. Every route needs Jupyter "
                                "auth: `Authorization: token <token>` (or the server's cookie + XSRF)."},
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "paths": paths,
        "components": {
            "schemas": {**defs.get("$defs", {}), "FinalStatus": {
                "type": "string", "enum": [s.value for s in Status if s in FINAL_STATUSES],
                "description": "The statuses a run ends in (runner/protocol.py FINAL_STATUSES)."}},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization",
                                          "description": "`token <your Jupyter token>`"}},
        },
        "security": [{"token": []}],
    }


def document() -> dict:
    """The document for the default base URL, built from the route table without a running server."""
    from .routes import ROUTES

    return build_openapi(ROUTES)


def main() -> None:
    """`python -m jupyter_jobs.server.openapi > labextension/src/api/openapi.json` (the Lab extension's
    TypeScript types are generated from that file; `jlpm check:api` fails when it is out of date)."""
    import json
    import sys

    sys.stdout.write(json.dumps(document(), indent=2) + "\n")


if __name__ == "__main__":
    main()
