"""Start the ``elb-test-servers`` binary from Python tests and read what it started.

The binary prints one line of JSON that describes its servers, then runs until its stdin
closes. :func:`running_servers` keeps the write end of that pipe, so the servers stop when
the ``with`` block ends, and also when the Python process dies.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import select
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[2]
BINARY_ENV = "ELB_TEST_SERVERS"
DEFAULT_BINARY = REPO_ROOT / "target" / "debug" / "elb-test-servers"
AZURITE_ENV = "ELB_AZURITE_BIN"


class RunningServers(NamedTuple):
    """The description that ``elb-test-servers`` printed, and its process."""

    info: dict[str, Any]
    process: subprocess.Popen[bytes]

    @property
    def ca_cert(self) -> str:
        """Path of the PEM file of the test CA that signed every HTTPS server certificate."""
        return str(self.info["ca_cert"])

    @property
    def azurite(self) -> dict[str, Any]:
        """Azurite's ``blob_endpoint``, ``account``, ``key``, ``connection_string`` and ``https``."""
        if "azurite" not in self.info:
            raise KeyError("Azurite was not started: pass '--azurite', 'http' (or 'https') to running_servers")
        return dict(self.info["azurite"])


def binary_path() -> Path:
    """Return the binary named by ``ELB_TEST_SERVERS``, or the debug build in ``target/``."""
    configured = os.environ.get(BINARY_ENV)
    return Path(configured) if configured else DEFAULT_BINARY


@contextmanager
def running_servers(
    *flags: str, binary: Path | None = None, start_timeout: float = 60.0
) -> Iterator[RunningServers]:
    """Start ``elb-test-servers`` with ``flags``, yield its description, then stop it.

    Raises:
        FileNotFoundError: the binary is missing; build it with
            ``cargo build -p elb-test-servers`` or set ``ELB_TEST_SERVERS``.
        RuntimeError: the binary exited or printed no JSON line within ``start_timeout``
            seconds; the message contains its stderr.
    """
    path = binary or binary_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"elb-test-servers binary not found at {path}: run "
            f"`cargo build -p elb-test-servers` in {REPO_ROOT}, or set {BINARY_ENV}"
        )

    env = dict(os.environ)
    # Point the binary at this checkout's Azurite, which matters when the binary was built
    # in another folder.
    azurite = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
    if AZURITE_ENV not in env and azurite.is_file():
        env[AZURITE_ENV] = str(azurite)

    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [str(path), *flags],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        try:
            info = _read_description(process, stderr, start_timeout)
            yield RunningServers(info, process)
        finally:
            _stop(process)


def _read_description(
    process: subprocess.Popen[bytes], stderr: Any, timeout: float
) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(
                f"elb-test-servers printed no description within {timeout} s; "
                f"stderr:\n{_tail(stderr)}"
            )
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            code = process.wait(timeout=10)
            raise RuntimeError(
                f"elb-test-servers exited with status {code} during start-up; "
                f"stderr:\n{_tail(stderr)}"
            )
        line += chunk
    parsed = json.loads(line)
    if not isinstance(parsed, dict):
        raise RuntimeError(f"elb-test-servers printed {line!r}, not a JSON object")
    return parsed


def _tail(stderr: Any, size: int = 4000) -> str:
    stderr.flush()
    stderr.seek(0)
    return str(stderr.read()[-size:].decode(errors="replace"))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close stdin so the binary stops its servers, and kill it if it hangs."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_storage_token(tenant: str, lifetime_secs: int = 3600) -> str:
    """Mint a storage bearer token that Azurite's ``--oauth basic`` mode accepts.

    The claims match ``elb_test_servers::azurite::storage_token``: issuer
    ``https://sts.windows.net/<tenant>/``, audience ``https://storage.azure.com``, ``oid``,
    ``tid`` and ``appid``, valid from one minute ago for ``lifetime_secs`` seconds. The
    signature is random, because Azurite 3.35 checks claims and times, not signatures.
    """
    now = int(time.time())
    not_before = min(now, now + lifetime_secs) - 60
    header = {"alg": "RS256", "typ": "JWT", "kid": "elb-test"}
    claims = {
        "iss": f"https://sts.windows.net/{tenant}/",
        "aud": "https://storage.azure.com",
        "sub": "00000000-0000-0000-0000-0000000e1b00",
        "oid": "00000000-0000-0000-0000-0000000e1b00",
        "tid": tenant,
        "appid": "00000000-0000-0000-0000-00000000e1b0",
        "iat": not_before,
        "nbf": not_before,
        "exp": now + lifetime_secs,
    }
    return ".".join(
        [
            _b64url(json.dumps(header).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(secrets.token_bytes(64)),
        ]
    )
