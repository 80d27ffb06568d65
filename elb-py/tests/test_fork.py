"""elb_py objects used in child processes created by fork() after the parent used them."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import elb_py

from conftest import CannedServer

# Python 3.12 and later warn on every fork of a process with more than one thread, and the
# elb_py runtime threads always count. Working after such a fork is what these tests check.
pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="fork() exists only on POSIX systems"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

# The maximum wait in seconds for a child or a pool result, so that a hang fails the test.
CHILD_TIMEOUT = 120.0


def run_in_child(body: Callable[[], bool]) -> int:
    """Run ``body`` in a child created by ``os.fork()`` and return the child's exit code.

    The child exits with 0 when ``body`` returns true, 1 when it returns false and 2 when it
    raises, after printing the traceback. A child still running after ``CHILD_TIMEOUT``
    seconds is killed and the test fails.
    """
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = 0 if body() else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child {pid} was still running after {CHILD_TIMEOUT} s")
        time.sleep(0.05)


def new_store(azurite: dict[str, Any]) -> elb_py.BlobStore:
    return elb_py.BlobStore(
        azurite["blob_endpoint"], account_key=azurite["key"], account_name=azurite["account"]
    )


def test_os_fork_child_uses_store(
    azurite_http: dict[str, Any], store: elb_py.BlobStore, container: str
) -> None:
    # The parent's runtime and connection pool exist before the fork.
    store.upload_bytes(container, "parent/before.txt", b"written before the fork")

    def child() -> bool:
        data = f"written by child {os.getpid()}".encode()
        store.upload_bytes(container, "child/same-store.txt", data)
        same_store = store.download_bytes(container, "child/same-store.txt") == data

        other = new_store(azurite_http)
        other.upload_bytes(container, "child/new-store.txt", data)
        new_store_reads = other.download_bytes(container, "child/new-store.txt") == data
        parent_blob = store.download_bytes(container, "parent/before.txt")
        return same_store and new_store_reads and parent_blob == b"written before the fork"

    assert run_in_child(child) == 0

    names = [item["name"] for item in store.list_blobs(container, "child/")]
    assert names == ["child/new-store.txt", "child/same-store.txt"]
    store.upload_bytes(container, "parent/after.txt", b"written after the fork")
    assert store.download_bytes(container, "parent/after.txt") == b"written after the fork"


def test_async_call_in_forked_child(store: elb_py.BlobStore, container: str) -> None:
    store.upload_bytes(container, "parent.txt", b"parent")

    def child() -> bool:
        async def round_trip() -> bytes:
            await store.upload_bytes_async(container, "async-child.txt", b"async child")
            return await store.download_bytes_async(container, "async-child.txt")

        return asyncio.run(round_trip()) == b"async child"

    assert run_in_child(child) == 0
    assert store.download_bytes(container, "async-child.txt") == b"async child"


# The store of a pool worker: the parent's object, inherited through fork().
_worker_store: elb_py.BlobStore | None = None
_worker_azurite: dict[str, Any] = {}


def _keep_store(store: elb_py.BlobStore, azurite: dict[str, Any]) -> None:
    global _worker_store, _worker_azurite
    _worker_store = store
    _worker_azurite = azurite


def _round_trip_in_worker(container: str, name: str) -> tuple[int, bool]:
    """Upload and download ``name`` with the inherited store and with a new one."""
    assert _worker_store is not None
    data = f"{name} from worker {os.getpid()}".encode()
    _worker_store.upload_bytes(container, name, data)
    same_store = _worker_store.download_bytes(container, name) == data
    new_store_reads = new_store(_worker_azurite).download_bytes(container, name) == data
    return os.getpid(), same_store and new_store_reads


def test_fork_pool_workers_use_store(
    azurite_http: dict[str, Any], store: elb_py.BlobStore, container: str
) -> None:
    store.upload_bytes(container, "parent.txt", b"parent")
    names = [f"pool/blob-{index}.txt" for index in range(8)]

    context = multiprocessing.get_context("fork")
    with context.Pool(2, initializer=_keep_store, initargs=(store, azurite_http)) as pool:
        pending = pool.starmap_async(_round_trip_in_worker, [(container, name) for name in names])
        results = pending.get(timeout=CHILD_TIMEOUT)

    assert [matched for _, matched in results] == [True] * len(names)
    worker_pids = {pid for pid, _ in results}
    assert os.getpid() not in worker_pids
    listed = [item["name"] for item in store.list_blobs(container, "pool/")]
    assert listed == sorted(names)
    assert store.download_bytes(container, "parent.txt") == b"parent"


def test_forked_child_gets_own_token(
    azurite_https: dict[str, Any], imds: CannedServer
) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url)
    store = elb_py.BlobStore(
        azurite_https["blob_endpoint"], credential=credential, ca_file=azurite_https["ca_cert"]
    )
    container = f"fork{uuid.uuid4().hex[:12]}"
    assert store.create_container(container) is True
    assert len(imds.requests) == 1

    issued = json.loads(imds.reply.body)["access_token"]

    def child() -> bool:
        store.upload_bytes(container, "child.txt", b"child with a bearer token")
        token = credential.get_token("https://storage.azure.com/.default")
        downloaded = store.download_bytes(container, "child.txt")
        return downloaded == b"child with a bearer token" and token.token == issued

    assert run_in_child(child) == 0
    # The imds server runs in this process, so it recorded the child's request too: the
    # child built its own credential and did not use the parent's connection or token.
    assert len(imds.requests) == 2

    assert store.download_bytes(container, "child.txt") == b"child with a bearer token"
    assert len(imds.requests) == 2
    assert store.delete_container(container) is True


def job_record(job_id: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": "queued",
        "mode": "B",
        "created_at": "2026-12-04T16:35:00Z",
        "cluster_name": "elb-test",
        "program": "blastn",
        "db": "pdbnt",
        "results": "https://acct.blob.core.windows.net/results",
        "elb_job_id": None,
        "error": None,
        "submitted_by": "pytest",
    }


def test_forked_child_uses_kube_client(kube_server: dict[str, Any]) -> None:
    kube = elb_py.KubeClient.from_kubeconfig(kube_server["kubeconfig"])
    jobs = elb_py.JobStore(kube, "default")
    parent_id = uuid.uuid4().hex[:10]
    child_id = uuid.uuid4().hex[:10]
    jobs.create(job_record(parent_id))

    def child() -> bool:
        kube.readyz()
        jobs.create(job_record(child_id))
        read_back = elb_py.JobStore(kube, "default").get(parent_id)
        return read_back.record["job_id"] == parent_id

    assert run_in_child(child) == 0

    created = jobs.get(child_id)
    assert created.record["job_id"] == child_id
    assert created.record["submitted_by"] == "pytest"
    jobs.delete(child_id)
    jobs.delete(parent_id)
