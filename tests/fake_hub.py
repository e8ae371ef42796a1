"""A loopback stand-in for the model hub: serves folders as repositories, each at one commit.

It answers the URLs `huggingface_hub` uses for a download (the tree listing, HEAD and GET on
`/{repo}/resolve/{revision}/{file}`, with Range for resumes), records every request, and can
stream one file slowly so a test can kill a download half-way.

A repository may also list "phantom" files: names and sizes as the real hub lists them (a
1.2 GB flax_model.msgpack, say) with no bytes behind them. They make a replica's listing the
real one; a GET on a phantom answers 403, and `fetched()` shows it, so a test can prove the
downloader never asked for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

COMMIT = "c0ffee" + "0" * 34


@dataclass
class HubRepo:
    folder: Path
    commit: str = COMMIT
    phantoms: dict[str, int] = field(default_factory=dict)


class FakeHub:
    def __init__(
        self,
        repo: str | None = None,
        folder: Path | None = None,
        commit: str = COMMIT,
        *,
        repos: dict[str, HubRepo] | None = None,
    ) -> None:
        self.repos: dict[str, HubRepo] = dict(repos or {})
        if repo is not None and folder is not None:
            self.repos[repo] = HubRepo(folder, commit)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.slow_file: str | None = None
        self.slow_seconds = 0.0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._serve(self, body=False)

            def do_GET(self) -> None:
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo: str) -> list[Path]:
        return sorted(p for p in self.repos[repo].folder.iterdir() if p.is_file())

    def fetched(self, repo: str = "") -> list[str]:
        """Files whose bytes were requested (GET on resolve URLs), of one repo or all."""
        return [
            path.rsplit("/", 1)[-1]
            for method, path, _ in self.requests
            if method == "GET" and f"{repo}/resolve/" in path
        ]

    def _tree(self, repo: str) -> list[dict[str, Any]]:
        out = []
        for name, size in self.repos[repo].phantoms.items():
            oid = hashlib.sha256(name.encode()).hexdigest()
            out.append(
                {
                    "type": "file",
                    "path": name,
                    "size": size,
                    "oid": oid[:40],
                    "lfs": {"oid": oid, "size": size, "pointerSize": 134},
                }
            )
        for p in self.files(repo):
            data = p.read_bytes()
            entry: dict[str, Any] = {
                "type": "file",
                "path": p.name,
                "size": len(data),
                "oid": hashlib.sha1(data).hexdigest(),
            }
            if p.suffix in (".safetensors", ".bin"):
                entry["lfs"] = {
                    "oid": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "pointerSize": 134,
                }
            out.append(entry)
        return out

    def _serve(self, req: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(req.path).path)
        self.requests.append((req.command, path, dict(req.headers)))
        for repo, spec in self.repos.items():
            if f"/{repo}/" in path:
                return self._serve_repo(req, body, path, repo, spec)
        self._json(req, 404, {"error": "Repository not found"}, body)

    def _serve_repo(
        self, req: BaseHTTPRequestHandler, body: bool, path: str, repo: str, spec: HubRepo
    ) -> None:
        tree_prefix = f"/api/models/{repo}/tree/"
        info_prefix = f"/api/models/{repo}/revision/"
        resolve_prefix = f"/{repo}/resolve/"
        if path.startswith(tree_prefix):
            revision = path[len(tree_prefix) :].split("/", 1)[0]
            if revision not in (spec.commit, "main"):
                return self._json(
                    req,
                    404,
                    {"error": "Revision not found"},
                    body,
                    {"X-Error-Code": "RevisionNotFound"},
                )
            return self._json(req, 200, self._tree(repo), body)
        if path.startswith(info_prefix):
            return self._json(
                req,
                200,
                {
                    "id": repo,
                    "sha": spec.commit,
                    "siblings": [{"rfilename": p.name} for p in self.files(repo)],
                },
                body,
            )
        if path.startswith(resolve_prefix):
            revision, _, name = path[len(resolve_prefix) :].partition("/")
            if name in spec.phantoms:
                return self._json(req, 403, {"error": "phantom file: never to be fetched"}, body)
            file = spec.folder / name
            if revision not in (spec.commit, "main") or not file.is_file():
                return self._json(
                    req, 404, {"error": "Entry not found"}, body, {"X-Error-Code": "EntryNotFound"}
                )
            return self._file(req, file, body, spec.commit)
        self._json(req, 404, {"error": "not found"}, body)

    def _json(
        self,
        req: BaseHTTPRequestHandler,
        status: int,
        obj: Any,
        body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(obj).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.end_headers()
        if body:
            req.wfile.write(data)

    def _file(self, req: BaseHTTPRequestHandler, file: Path, body: bool, commit: str) -> None:
        data = file.read_bytes()
        start = 0
        ranged = req.headers.get("Range")
        if ranged and ranged.startswith("bytes="):
            start = int(ranged[6:].split("-", 1)[0] or 0)
        part = data[start:]
        req.send_response(206 if start else 200)
        req.send_header("Content-Length", str(len(part)))
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        req.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        req.send_header("X-Repo-Commit", commit)
        req.send_header("Accept-Ranges", "bytes")
        req.end_headers()
        if not body:
            return
        if file.name == self.slow_file:
            step = max(1, len(part) // 50)
            for i in range(0, len(part), step):
                try:
                    req.wfile.write(part[i : i + step])
                    req.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                time.sleep(self.slow_seconds / 50)
        else:
            req.wfile.write(part)
