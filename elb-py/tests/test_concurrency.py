"""Calling styles: blocking calls release the GIL, async calls run on asyncio and cancel."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import elb_py

from conftest import CannedServer, Reply

THREADS = 16


def test_sixteen_threads_upload_at_once(store: elb_py.BlobStore, container: str) -> None:
    payloads = {
        f"parallel/blob-{index:02d}": os.urandom(2 * 1024 * 1024) for index in range(THREADS)
    }
    barrier = threading.Barrier(THREADS)
    spans: dict[str, tuple[float, float]] = {}

    def upload(name: str) -> None:
        barrier.wait()
        started = time.monotonic()
        store.upload_bytes(container, name, payloads[name])
        spans[name] = (started, time.monotonic())

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(upload, payloads))

    listed = {item["name"]: item["size"] for item in store.list_blobs(container, "parallel/")}
    assert listed == {name: len(data) for name, data in payloads.items()}

    # With the GIL held for a whole call, the calls would run one after another and no two
    # spans would intersect. Count the calls that were running when the last one started.
    last_start = max(start for start, _ in spans.values())
    running_at_last_start = sum(1 for start, end in spans.values() if start <= last_start < end)
    assert running_at_last_start >= 2, f"calls did not overlap: {sorted(spans.values())}"


def test_python_threads_run_during_blocking_call(canned: CannedServer) -> None:
    canned.reply = Reply(status=200, body=b"slow", headers={"Content-Length": "4"}, delay=1.0)
    store = elb_py.BlobStore(canned.url + "/devstoreaccount1", max_retries=0)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.01)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        store.exists("results", "slow-blob")
    finally:
        stop.set()
        counter.join()
    assert ticks >= 20, f"the counting thread ran only {ticks} times during a 1 s call"


@pytest.mark.asyncio
async def test_gather_of_transfers(store: elb_py.BlobStore, container: str) -> None:
    names = [f"gather/{index}.fa" for index in range(8)]
    reports = await asyncio.gather(
        *(store.upload_bytes_async(container, name, name.encode() * 1000) for name in names)
    )
    assert [report["bytes"] for report in reports] == [len(name.encode() * 1000) for name in names]

    contents = await asyncio.gather(*(store.download_bytes_async(container, n) for n in names))
    assert contents == [name.encode() * 1000 for name in names]
    assert await store.exists_async(container, names[0]) is True


@pytest.mark.asyncio
async def test_async_error_raises_typed_exception(
    store: elb_py.BlobStore, container: str
) -> None:
    with pytest.raises(elb_py.NotFoundError) as caught:
        await store.download_bytes_async(container, "missing.fa")
    assert caught.value.status == 404


@pytest.mark.asyncio
async def test_cancel_aborts_rust_task(canned: CannedServer, tmp_path: Any) -> None:
    # Every Put Block takes 0.2 s, so a 6 MiB upload in 1 MiB blocks, one at a time, sends
    # six requests over more than a second unless cancelling stops it.
    canned.reply = Reply(status=201, delay=0.2)
    store = elb_py.BlobStore(canned.url + "/devstoreaccount1", max_retries=0)
    source = tmp_path / "six-blocks.bin"
    source.write_bytes(os.urandom(6 * 1024 * 1024))

    task = asyncio.ensure_future(
        store.upload_file_async(
            "results", "cancelled.bin", source, block_size=1024 * 1024, concurrency=1
        )
    )
    while not canned.requests and not task.done():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    requests_at_cancel = len(canned.requests)

    await asyncio.sleep(1.0)
    assert task.cancelled()
    assert len(canned.requests) == requests_at_cancel
    assert requests_at_cancel < 6
    assert all(request["query"].get("comp") != ["blocklist"] for request in canned.requests)


def test_async_call_needs_running_loop(store: elb_py.BlobStore) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        store.exists_async("results", "b")


def test_ctrl_c_interrupts_blocking_call(canned: CannedServer) -> None:
    # The server delays its reply by 60 s, so only the interrupt can end the call sooner.
    canned.reply = Reply(status=200, delay=60.0)
    script = (
        "import sys, elb_py\n"
        f"store = elb_py.BlobStore({canned.url + '/devstoreaccount1'!r}, max_retries=0)\n"
        "try:\n"
        "    store.exists('results', 'slow')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
        "    sys.exit(3)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not canned.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert canned.requests, "the child process sent no request"
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 3, stderr
    assert stdout.strip() == "interrupted"
