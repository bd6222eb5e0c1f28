"""A local stand-in for the Hugging Face hub: serves model directories over HTTP on
127.0.0.1 the way the hub answers the installed huggingface_hub (2.x) during
``snapshot_download``:

1. ``GET /api/models/{repo}/revision/{rev}`` (``repo_info``): JSON with ``sha`` (the
   commit) and ``siblings``; an unknown repo is 401 ``X-Error-Code: RepoNotFound``, an
   unknown revision 404 ``RevisionNotFound``.
2. ``GET /api/models/{repo}/tree/{commit}?recursive=...`` (``list_repo_tree``): the files
   (``type``, ``path``, ``size``, ``oid`` = git blob sha1, ``lfs`` for weights) and
   folders, one page (no ``Link`` header).
3. ``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` (``hf_hub_download``), ``rev`` being
   "main" or the commit: plain files answer 200 with ``X-Repo-Commit``, ``ETag`` (the
   blob sha1) and ``Content-Length``; LFS files answer 302 to the CDN on
   another origin (``localhost`` instead of ``127.0.0.1``, as the hub sends to its CDN,
   so huggingface_hub reads the metadata from the redirect: ``X-Linked-Etag`` = sha256,
   ``X-Linked-Size``), then GET the CDN address without the hub's headers. A missing
   file is 404 ``X-Error-Code: EntryNotFound``. (CDN addresses, ``/cdn/{repo}/{sha256}``,
   name the repo so that a failure set on one repo's file spares equal files elsewhere.)

No xet headers are sent, so files come over plain HTTP. ``fail()`` makes a file answer
an error status; ``requests`` logs every request so tests can see what was fetched.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_PATTERNS = ("*.safetensors", "*.bin", "*.h5", "*.msgpack", "*.ot", "*.onnx", "*.spm", "*.model")


@dataclass(frozen=True)
class RepoFile:
    path: str  # posix, relative to the repo root
    data: bytes
    lfs: bool

    @property
    def blob_sha1(self) -> str:
        """The git blob id (what the hub's tree lists as ``oid``, and the ETag of plain files)."""
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    status: int


class Repo:
    """One model repository: the files of a directory at a single commit on "main"."""

    def __init__(self, directory: Path, lfs_patterns: Iterable[str] = LFS_PATTERNS) -> None:
        patterns = tuple(lfs_patterns)
        self.files: dict[str, RepoFile] = {}
        for file in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
            rel = file.relative_to(directory).as_posix()
            lfs = any(fnmatch.fnmatch(rel.rsplit("/", 1)[-1], p) for p in patterns)
            self.files[rel] = RepoFile(rel, file.read_bytes(), lfs)
        listing = "".join(f"{f.path}:{f.blob_sha1}\n" for f in self.files.values())
        self.commit = hashlib.sha1(listing.encode()).hexdigest()

    def folders(self) -> list[str]:
        seen: dict[str, None] = {}
        for path in self.files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                seen["/".join(parts[:i])] = None
        return list(seen)


class HubStandin:
    """The stand-in server; use as a context manager. ``endpoint`` is its HF_ENDPOINT."""

    def __init__(self, repos: Mapping[str, Path]) -> None:
        self.repos = {repo_id: Repo(directory) for repo_id, directory in repos.items()}
        self.requests: list[Request] = []
        self._failures: dict[tuple[str, str], tuple[int, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cdn = f"http://localhost:{self.port}"  # another origin, as the hub's CDN is
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> HubStandin:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops serving and closes the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def fail(self, repo_id: str, path: str, status: int, methods: Iterable[str] = ("GET",)) -> None:
        """Makes ``path`` of ``repo_id`` answer ``status`` to ``methods`` (on /resolve and
        on the CDN)."""
        with self._lock:
            self._failures[(repo_id, path)] = (status, frozenset(methods))

    def failure(self, repo_id: str, path: str, method: str) -> int | None:
        with self._lock:
            status, methods = self._failures.get((repo_id, path), (0, frozenset()))
        return status if method in methods else None

    def downloaded(self, repo_id: str) -> set[str]:
        """Paths of ``repo_id`` whose content was sent (a GET answered 200)."""
        repo = self.repos[repo_id]
        by_sha: dict[str, set[str]] = {}
        for f in repo.files.values():
            by_sha.setdefault(f.sha256, set()).add(f.path)  # identical files share a blob
        sent: set[str] = set()
        with self._lock:
            requests = list(self.requests)
        for r in requests:
            if r.method != "GET" or r.status != 200:
                continue
            resolve, cdn = f"/{repo_id}/resolve/", f"/cdn/{repo_id}/"
            if r.path.startswith(resolve):
                sent.add(r.path[len(resolve) :].split("/", 1)[1])
            elif r.path.startswith(cdn):
                sent |= by_sha.get(r.path[len(cdn) :], set())
        return sent

    def log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def _handler(hub: HubStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hub-standin"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are recorded in hub.requests instead

        def do_HEAD(self) -> None:
            self._route(body=False)

        def do_GET(self) -> None:
            self._route(body=True)

        def _route(self, *, body: bool) -> None:
            self.request_path = unquote(urlsplit(self.path).path)
            self._dispatch(self.request_path, body)

        def _dispatch(self, path: str, body: bool) -> int:
            if path == "/":
                return self._send(200, b"hub stand-in\n", body)
            for repo_id, repo in hub.repos.items():
                cdn = f"/cdn/{repo_id}/"
                if path.startswith(cdn):
                    return self._cdn(repo_id, repo, path[len(cdn) :], body)
                api = f"/api/models/{repo_id}"
                if path == api or path.startswith(api + "/"):
                    return self._api(repo_id, repo, path[len(api) :], body)
                resolve = f"/{repo_id}/resolve/"
                if path.startswith(resolve) and "/" in path[len(resolve) :]:
                    rev, file = path[len(resolve) :].split("/", 1)
                    return self._resolve(repo_id, repo, rev, file, body)
            if path.startswith("/api/models/"):
                return self._error(401, "RepoNotFound", "Repository not found", body)
            return self._send(404, b"not found\n", body)

        def _api(self, repo_id: str, repo: Repo, rest: str, body: bool) -> int:
            if rest in ("", "/revision/main", f"/revision/{repo.commit}"):
                info = {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": repo.commit,
                    "private": False,
                    "siblings": [{"rfilename": name} for name in repo.files],
                }
                return self._json(info, body)
            for rev in ("main", repo.commit):
                if rest == f"/tree/{rev}" or rest.startswith(f"/tree/{rev}/"):
                    return self._json(self._tree(repo), body)
            if rest.startswith(("/revision/", "/tree/")):
                return self._error(404, "RevisionNotFound", "Invalid rev id", body)
            return self._send(404, b"not found\n", body)

        def _tree(self, repo: Repo) -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = [
                {"type": "directory", "path": folder, "oid": "0" * 40, "size": 0}
                for folder in repo.folders()
            ]
            for f in repo.files.values():
                entry: dict[str, Any] = {
                    "type": "file",
                    "path": f.path,
                    "size": len(f.data),
                    "oid": f.blob_sha1,
                }
                if f.lfs:
                    entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": 134}
                entries.append(entry)
            return entries

        def _resolve(self, repo_id: str, repo: Repo, rev: str, file: str, body: bool) -> int:
            if rev not in ("main", repo.commit):
                return self._error(404, "RevisionNotFound", "Invalid rev id", body)
            entry = repo.files.get(file)
            if entry is None:
                return self._error(404, "EntryNotFound", f"{file} does not exist", body, repo)
            failure = hub.failure(repo_id, file, self.command)
            if failure is not None:
                return self._send(
                    failure, b"stand-in failure\n", body, {"X-Repo-Commit": repo.commit}
                )
            headers = {"X-Repo-Commit": repo.commit}
            if entry.lfs:
                headers.update(
                    {
                        "Location": f"{hub.cdn}/cdn/{repo_id}/{entry.sha256}",
                        "X-Linked-Etag": f'"{entry.sha256}"',
                        "X-Linked-Size": str(len(entry.data)),
                        "ETag": f'"{entry.blob_sha1}"',
                    }
                )
                return self._send(302, b"", body, headers)
            headers["ETag"] = f'"{entry.blob_sha1}"'
            return self._send(200, entry.data, body, headers)

        def _cdn(self, repo_id: str, repo: Repo, sha256: str, body: bool) -> int:
            files = [f for f in repo.files.values() if f.lfs and f.sha256 == sha256]
            if not files:
                return self._send(404, b"no such blob\n", body)
            for f in files:
                failure = hub.failure(repo_id, f.path, self.command)
                if failure is not None:
                    return self._send(failure, b"stand-in failure\n", body)
            return self._send(200, files[0].data, body, {"ETag": f'"{sha256}"'})

        def _json(self, value: Any, body: bool) -> int:
            data = json.dumps(value).encode()
            return self._send(200, data, body, {"Content-Type": "application/json"})

        def _error(
            self, status: int, code: str, message: str, body: bool, repo: Repo | None = None
        ) -> int:
            headers = {"X-Error-Code": code, "X-Error-Message": message}
            if repo is not None:
                headers["X-Repo-Commit"] = repo.commit
            data = json.dumps({"error": message}).encode()
            return self._send(status, data, body, {"Content-Type": "application/json", **headers})

        def _send(
            self, status: int, data: bytes, body: bool, headers: Mapping[str, str] | None = None
        ) -> int:
            self.send_response(status)
            # logged before answering: a client that has its answer finds it in the log
            hub.log(Request(self.command, self.request_path, status))
            headers = {"Content-Type": "application/octet-stream", **(headers or {})}
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(data)
            return status

    return Handler
