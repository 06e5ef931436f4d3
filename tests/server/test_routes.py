"""The route table: every route is registered, authenticated, authorized and documented."""

from __future__ import annotations

import json

import pytest
from jupyter_server.auth import Authorizer
from tornado.httpclient import HTTPClientError

from jupyter_jobs.server.base import JobsHandler
from jupyter_jobs.server.routes import ROUTES

METHODS = ("get", "head", "post", "put", "patch", "delete")
SAMPLES = {"run_id": "0000", "path": "dir/x.txt", "sha256": "0" * 64, "name": "TOKEN", "schedule_id": "sch-00"}


def route_url(route) -> str:
    return route.path.format(**{name: SAMPLES[name] for name in route.params})


def all_ops():
    return [(route, method) for route in ROUTES for method in route.ops]


def handler_methods(handler) -> set[str]:
    return {m for m in METHODS if m in vars(handler) or any(
        m in vars(base) for base in handler.__mro__ if issubclass(base, JobsHandler) and base is not JobsHandler)}


def test_route_table_matches_the_handlers():
    """Each handler implements exactly the methods its route documents, and every handler class is routed,
    so a new method or handler cannot skip the table (and with it the auth tests and OpenAPI)."""
    routed = {route.handler for route in ROUTES}
    handlers, todo = set(), list(JobsHandler.__subclasses__())  # every handler class, in any module
    while todo:
        cls = todo.pop()
        handlers.add(cls)
        todo.extend(cls.__subclasses__())
    assert handlers == routed
    for route in ROUTES:
        assert handler_methods(route.handler) == set(route.ops), route.path
        assert route.path.startswith("/jobs/")
        for method in route.ops:  # @web.authenticated + @authorized wrap every method
            assert hasattr(getattr(route.handler, method), "__wrapped__"), (route.path, method)


def test_routes_are_registered_with_the_server(jobs_app, jp_serverapp):
    registered = {}

    def walk(router):
        for rule in router.rules:
            if hasattr(rule.target, "rules"):
                walk(rule.target)
            elif hasattr(rule.matcher, "regex"):
                registered[rule.target] = rule.matcher.regex.pattern

    walk(jp_serverapp.web_app.default_router)
    for route in ROUTES:
        assert route.handler in registered, route.path
        assert registered[route.handler].endswith(route.pattern + "$")


@pytest.mark.parametrize("auth", ["none", "wrong-token"])
async def test_every_route_refuses_requests_without_the_token(http_server_client, jp_base_url, auth):
    refused = []
    for route, method in all_ops():
        headers = {} if auth == "none" else {"Authorization": "token not-the-token"}
        url = jp_base_url.rstrip("/") + route_url(route)
        body = b"{}" if method in ("post", "put", "patch") else None
        try:
            response = await http_server_client.fetch(url, method=method.upper(), headers=headers, body=body,
                                                      allow_nonstandard_methods=True, follow_redirects=False)
            code = response.code
        except HTTPClientError as err:
            code = err.code
        if code not in (401, 403):
            refused.append((method, route.path, code))
    assert not refused, f"answered without auth: {refused}"


class ReadOnly(Authorizer):
    """Reads allowed, writes and executes refused: checks that each method asks for the right action."""

    def is_authorized(self, handler, user, action, resource):
        return action == "read"


@pytest.mark.parametrize("jobs_extra_config", [{"ServerApp": {"authorizer_class": ReadOnly}}], indirect=True)
async def test_every_route_asks_the_authorizer(api, jobs_extra_config):
    wrong = []
    for route, method in all_ops():
        parts = route_url(route).removeprefix("/jobs/").split("/")
        body = b"{}" if method in ("post", "put", "patch") else None
        code, data, _ = await api(*parts, method=method.upper(), raw=body)
        should_refuse = method not in ("get", "head")
        if (code == 403) != should_refuse:
            wrong.append((method, route.path, code, data))
    assert not wrong


async def test_openapi_lists_every_route_and_validates(api, jp_base_url):
    code, doc, response = await api("openapi.json")
    assert code == 200
    doc = json.loads(json.dumps(doc))  # plain JSON
    for route, method in all_ops():
        assert method in doc["paths"][route.path], (route.path, method)
    assert set(doc["paths"]) == {route.path for route in ROUTES}
    assert doc["servers"][0]["url"] == jp_base_url.rstrip("/")
    for name in ("SubmitRequest", "Run", "ForkRequest", "JobSpec", "ErrorBody", "EventsPage", "TtlRequest"):
        assert name in doc["components"]["schemas"], name
    text = json.dumps(doc)
    import re

    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in doc["components"]["schemas"], ref
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


async def test_settings_come_from_server_config_and_root_dir(jobs_app, jobs_data_dir, jp_root_dir):
    """c.JobsSettings in the server's config reaches the service; project_dir defaults to root_dir."""
    assert jobs_app.jobs_settings.data_dir == str(jobs_data_dir)
    assert jobs_app.jobs_settings.project_dir == str(jp_root_dir)
    service = await jobs_app.service()
    assert service.settings.data_dir == str(jobs_data_dir)
    assert (jobs_data_dir / "jobs.db").exists()


async def test_config_lists_executors_limits_and_no_secrets(api, jobs_data_dir):
    code, config, _ = await api("config")
    assert code == 200
    assert config["default_executor"] == "local"
    assert config["executors"][0]["name"] == "local" and config["executors"][0]["default"] is True
    assert config["limits"]["max_file_size"] > 0
    text = json.dumps(config)
    assert str(jobs_data_dir) not in text and "sqlite" not in text


async def test_instance_types_say_why_an_executor_cannot_serve_one(api):
    code, data, _ = await api("instance-types")
    assert code == 200
    by_name = {t["name"]: t for t in data["instance_types"]}
    assert by_name["c1.4"]["executors"]["local"] == {"available": True, "reason": None}
    gpu = next(t for t in data["instance_types"] if t["gpus"] >= 1)
    assert gpu["executors"]["local"]["available"] in (True, False)
    if not gpu["executors"]["local"]["available"]:
        assert "GPU" in gpu["executors"]["local"]["reason"]
    code, err, _ = await api("instance-types", params={"executor": "nope"})
    assert code == 422 and err["field"] == "executor"


async def test_unknown_routes_methods_and_bodies_are_4xx_with_a_message(api):
    code, err, _ = await api("runs", method="POST", raw=b"{not json")
    assert code == 400 and "malformed JSON" in err["message"] and err["field"] is None
    code, err, _ = await api("runs", method="POST", raw=b"")
    assert code == 400
    code, err, _ = await api("runs", method="POST", raw=b"[1, 2]")
    assert code == 422
    code, err, _ = await api("runs", method="POST", body={"spec": {"cmd": 5}})
    assert code == 422 and err["field"] == "spec.cmd" and err["errors"]
    code, err, _ = await api("runs", method="POST", body={"spec": {"cmd": "true"}, "bogus": 1})
    assert code == 422 and err["field"] == "bogus"
    code, err, _ = await api("runs", method="POST", body={"spec": {"cmd": "true", "timeout_s": "soon"}})
    assert code == 422 and err["field"] == "spec.timeout_s"
    code, err, _ = await api("runs", params={"limit": "many"})
    assert code == 422 and err["field"] == "limit"
    code, err, _ = await api("runs", params={"status": "DONE"})
    assert code == 422 and err["field"] == "status"
    code, err, _ = await api("runs", "zzzzzzzz")
    assert code == 404 and "no job" in err["message"] and err["hint"]
    code, err, _ = await api("runs", "bad id!")
    assert code == 404
    for sub in ("cancel", "fork", "logs", "events", "outputs", "outputs.zip", "outputs/a.txt"):
        method = "POST" if sub in ("cancel", "fork") else "GET"
        code, err, _ = await api("runs", "zzzzzzzz", *sub.split("/"), method=method)
        assert code == 404, sub
    code, err, _ = await api("runs", "zzzzzzzz", method="PATCH", body={"ttl_days": "x"})
    assert code == 422 and err["field"] == "ttl_days"
    code, err, _ = await api("runs", "zzzzzzzz", method="PATCH", body={"ttl_days": 3})
    assert code == 404
    code, err, _ = await api("runs", method="PUT", raw=b"{}")
    assert code == 405
    code, err, _ = await api("blobs", "missing", method="POST", body={"sha256": ["abc"]})
    assert code == 422 and err["field"] == "sha256.0"
    code, err, _ = await api("runs", method="POST", body={"spec": {"cmd": "true", "instance_types": ["zz9"]}})
    assert code == 422 and "unknown instance type" in err["message"]
    code, err, _ = await api("runs", method="POST", body={"spec": {"cmd": "true"}, "executor": "nope"})
    assert code == 422 and err["hint"]
