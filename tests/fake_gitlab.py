"""A recording stand-in for GitLab's REST API (v4), for tests of the CI glue.

Serves, on 127.0.0.1, only the endpoints the glue (``.github/scripts/forge_gitlab.py``)
calls, for one project, with GitLab's field names and ``X-Next-Page`` paging
(two items per page, so paging is exercised)::

    with FakeGitLab("group/project") as gitlab:
        env = gitlab.env()      # CI_API_V4_URL, CI_PROJECT_PATH, TUFREPO_GITLAB_TOKEN, ...
        ...
        gitlab.calls            # [("GET", "/api/v4/projects/group%2Fproject/merge_requests"), ...]
        gitlab.merge_requests   # [{"iid", "source_branch", "title", "draft", "notes": [...]}]

Every request must carry the token (``PRIVATE-TOKEN``); anything else is a
404, as GitLab answers unknown routes.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

from webserver import Served, Server

PAGE_SIZE = 2
TOKEN = "glpat-test-token"


class FakeGitLab:
    """The state of one project, and the requests made to it."""

    def __init__(self, project: str = "group/project") -> None:
        self.project = project
        self.merge_requests: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.pipelines: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self._next_note = 1000
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _answer(self, status: int, body: Any, next_page: str = "") -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Next-Page", next_page)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                token = self.headers.get("PRIVATE-TOKEN") or self.headers.get("JOB-TOKEN") or ""
                with fake._lock:
                    fake.calls.append((method, url.path))
                    fake.tokens.add(token)
                    if token != TOKEN:
                        self._answer(401, {"message": "401 Unauthorized"})
                        return
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    found = fake.route(method, url.path, query, body)
                if found is None:
                    self._answer(404, {"message": "404 Not Found"})
                    return
                status, answer = found
                if isinstance(answer, list):
                    page = int(query.get("page", "1"))
                    chunk = answer[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
                    more = len(answer) > page * PAGE_SIZE
                    self._answer(status, chunk, str(page + 1) if more else "")
                else:
                    self._answer(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self._served = Served(server=Server(Handler))

    @property
    def url(self) -> str:
        """The server, e.g. http://127.0.0.1:4711 (the API is under /api/v4)."""
        return self._served.url

    def env(self) -> dict[str, str]:
        """The predefined variables of a GitLab CI job on this server, and the API token."""
        return {
            "GITLAB_CI": "true",
            "CI_SERVER_URL": self.url,
            "CI_API_V4_URL": f"{self.url}/api/v4",
            "CI_PROJECT_PATH": self.project,
            "CI_PIPELINE_URL": f"{self.url}/{self.project}/-/pipelines/1",
            "TUFREPO_GITLAB_TOKEN": TOKEN,
        }

    def __enter__(self) -> Self:
        self._served.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._served.stop()

    # --- the API --------------------------------------------------------------------

    def _note(self, body: str) -> dict[str, Any]:
        self._next_note += 1
        return {"id": self._next_note, "body": body, "system": False}

    def route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any] | None:
        """The answer to one request, or None for an unknown route (404)."""
        prefix = f"/api/v4/projects/{quote(self.project, safe='')}/"
        if not path.startswith(prefix):
            return None
        parts = path.removeprefix(prefix).split("/")
        match method, parts:
            case "GET", ["merge_requests"]:
                return 200, [
                    {k: v for k, v in mr.items() if k != "notes"}
                    for mr in self.merge_requests
                    if mr["state"] == query.get("state", mr["state"])
                    and mr["source_branch"] == query.get("source_branch", mr["source_branch"])
                    and mr["target_branch"] == query.get("target_branch", mr["target_branch"])
                ]
            case "POST", ["merge_requests"]:
                title = body["title"]
                mr = {
                    "iid": len(self.merge_requests) + 1,
                    "state": "opened",
                    "source_branch": body["source_branch"],
                    "target_branch": body["target_branch"],
                    "title": title,
                    "draft": title.startswith("Draft:"),
                    "description": body.get("description", ""),
                    # a system note, as GitLab adds for many events: never the status comment
                    "notes": [{"id": 1, "body": "changed the description", "system": True}],
                }
                self.merge_requests.append(mr)
                return 201, {k: v for k, v in mr.items() if k != "notes"}
            case "PUT", ["merge_requests", iid]:
                mr = self.merge_requests[int(iid) - 1]
                mr["title"] = body["title"]
                mr["draft"] = mr["title"].startswith("Draft:")
                return 200, {k: v for k, v in mr.items() if k != "notes"}
            case "GET", ["merge_requests", iid, "notes"]:
                return 200, list(self.merge_requests[int(iid) - 1]["notes"])
            case "POST", ["merge_requests", iid, "notes"]:
                note = self._note(body["body"])
                self.merge_requests[int(iid) - 1]["notes"].append(note)
                return 201, note
            case "PUT", ["merge_requests", iid, "notes", note_id]:
                for note in self.merge_requests[int(iid) - 1]["notes"]:
                    if note["id"] == int(note_id):
                        note["body"] = body["body"]
                        return 200, note
                return None
            case "GET", ["issues"]:
                return 200, [
                    i
                    for i in self.issues
                    if i["state"] == query.get("state", i["state"])
                    and query.get("labels", "") in i["labels"]
                ]
            case "POST", ["issues"]:
                issue = {
                    "iid": len(self.issues) + 1,
                    "title": body["title"],
                    "labels": body["labels"].split(","),
                    "state": "opened",
                    "description": body.get("description", ""),
                    "notes": [],
                }
                self.issues.append(issue)
                return 201, issue
            case "POST", ["issues", iid, "notes"]:
                note = self._note(body["body"])
                self.issues[int(iid) - 1]["notes"].append(note)
                return 201, note
            case "PUT", ["issues", iid]:
                issue = self.issues[int(iid) - 1]
                if body.get("state_event") == "close":
                    issue["state"] = "closed"
                return 200, issue
            case "POST", ["pipeline"]:
                self.pipelines.append(body["ref"])
                return 201, {"id": len(self.pipelines), "ref": body["ref"]}
        return None
