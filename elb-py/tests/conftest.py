"""Fixtures that start real loopback servers for the elb_py tests.

Azurite and the Kubernetes API server come from the ``elb-test-servers`` binary (started
through ``tests/python/servers.py``). Small HTTP servers written here act as a managed
identity endpoint and as a blob endpoint that replies to every request with a chosen error.
Every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import elb_py

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "python"))

import servers  # noqa: E402  (found through the path added above)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


_binary_built = False


def _ensure_binary() -> None:
    """Build ``elb-test-servers`` once per session unless ``ELB_TEST_SERVERS`` names one.

    Building every session keeps the binary in step with the source; cargo returns at once
    when nothing changed. A failed build fails the test instead of skipping it.
    """
    global _binary_built
    if _binary_built or os.environ.get(servers.BINARY_ENV):
        return
    subprocess.run(["cargo", "build", "-p", "elb-test-servers"], cwd=REPO_ROOT, check=True)
    _binary_built = True


@pytest.fixture(scope="session")
def azurite_http() -> Iterator[dict[str, Any]]:
    """Azurite over HTTP, with the development account key."""
    _ensure_binary()
    with servers.running_servers("--azurite", "http") as running:
        yield running.azurite


@pytest.fixture(scope="session")
def azurite_https() -> Iterator[dict[str, Any]]:
    """Azurite over HTTPS accepting bearer tokens, plus ``ca_cert`` of the test CA."""
    _ensure_binary()
    with servers.running_servers("--azurite", "https") as running:
        yield {**running.azurite, "ca_cert": running.ca_cert}


@pytest.fixture(scope="session")
def kube_server() -> Iterator[dict[str, Any]]:
    """The test Kubernetes API server: ``url``, ``token``, ``kubeconfig`` and ``ca_cert``."""
    _ensure_binary()
    with servers.running_servers("--kube") as running:
        yield {**running.info["kube"], "ca_cert": running.ca_cert}


@pytest.fixture
def store(azurite_http: dict[str, Any]) -> elb_py.BlobStore:
    """A store on Azurite over HTTP with Shared Key authorization."""
    return elb_py.BlobStore(
        azurite_http["blob_endpoint"],
        account_key=azurite_http["key"],
        account_name=azurite_http["account"],
    )


@pytest.fixture
def container(store: elb_py.BlobStore) -> Iterator[str]:
    """A new, empty container that is deleted after the test."""
    name = f"t{uuid.uuid4().hex[:20]}"
    assert store.create_container(name) is True
    yield name
    store.delete_container(name, missing_ok=True)


@dataclass
class Reply:
    """The reply of a canned server: status, JSON or XML body, headers and a delay."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class CannedServer:
    """An HTTP server on 127.0.0.1 that replies to each request with ``reply`` and records it."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                parts = urlsplit(self.path)
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "headers": {name.lower(): value for name, value in self.headers.items()},
                    }
                )
                reply = outer.reply
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def blob_error(self, status: int, code: str, **headers: str) -> None:
        """Answer every request with a Blob service error document."""
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
            f"<Message>{code} from the canned server</Message></Error>"
        ).encode()
        self.reply = Reply(
            status=status,
            body=body,
            headers={"x-ms-error-code": code, "Content-Type": "application/xml", **headers},
        )

    def token(self, access_token: str, expires_in: int = 3600) -> None:
        """Answer every request with a managed identity token response."""
        body = json.dumps(
            {
                "access_token": access_token,
                "expires_on": str(int(time.time()) + expires_in),
                "expires_in": str(expires_in),
                "token_type": "Bearer",
                "resource": "https://storage.azure.com",
            }
        ).encode()
        self.reply = Reply(status=200, body=body, headers={"Content-Type": "application/json"})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned() -> Iterator[CannedServer]:
    server = CannedServer()
    yield server
    server.close()


@pytest.fixture
def imds(canned: CannedServer) -> CannedServer:
    """A managed identity endpoint that issues storage tokens Azurite accepts."""
    canned.token(servers.mint_storage_token(TENANT))
    return canned


def closed_port_url() -> str:
    """Return an http URL on 127.0.0.1 whose port has no listener."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
