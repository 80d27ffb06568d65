"""Byte progress callbacks of BlobStore.upload_file and download_file against Azurite."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import elb_py

KIB = 1024
# Above the 4 MiB limit of one Put Blob, so uploads stage blocks.
SIZE = 5 * 1024 * KIB + 4321
BLOCK = 64 * KIB


def recorder(calls: list[tuple[int, int]]) -> Callable[[int, int], None]:
    """Return a progress callback that appends each call to ``calls``."""

    def record(bytes_done: int, bytes_total: int) -> None:
        calls.append((bytes_done, bytes_total))

    return record


def check_calls(calls: list[tuple[int, int]], size: int, elapsed: float) -> None:
    """Check the calls of one transfer: rising counts, the size as total, one final call."""
    assert calls, "progress was never called"
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    done = [bytes_done for bytes_done, _ in calls]
    assert done == sorted(done)
    assert len(set(done)) == len(done), f"repeated counts: {done}"
    # The first call goes at once, the others at least 0.1 s apart, plus the final call.
    assert len(calls) <= elapsed / 0.1 + 2, f"{len(calls)} calls in {elapsed:.2f} s"


def test_file_transfers_report_progress(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    source = tmp_path / "large.bin"
    data = os.urandom(SIZE)
    source.write_bytes(data)

    uploaded: list[tuple[int, int]] = []
    started = time.monotonic()
    report = store.upload_file(
        container, "large.bin", source, block_size=BLOCK, progress=recorder(uploaded)
    )
    check_calls(uploaded, SIZE, time.monotonic() - started)
    assert report["blocks"] == SIZE // BLOCK + 1

    downloaded: list[tuple[int, int]] = []
    target = tmp_path / "copy.bin"
    started = time.monotonic()
    store.download_file(
        container, "large.bin", target, range_size=BLOCK, progress=recorder(downloaded)
    )
    check_calls(downloaded, SIZE, time.monotonic() - started)
    assert target.read_bytes() == data


def test_async_file_transfers_report_progress(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(SIZE))
    uploaded: list[tuple[int, int]] = []
    downloaded: list[tuple[int, int]] = []

    async def transfer() -> None:
        await store.upload_file_async(
            container, "large.bin", source, block_size=BLOCK, progress=recorder(uploaded)
        )
        await store.download_file_async(
            container,
            "large.bin",
            tmp_path / "copy.bin",
            range_size=BLOCK,
            progress=recorder(downloaded),
        )

    started = time.monotonic()
    asyncio.run(transfer())
    elapsed = time.monotonic() - started
    check_calls(uploaded, SIZE, elapsed)
    check_calls(downloaded, SIZE, elapsed)


def test_empty_file_gets_final_call(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    source = tmp_path / "empty.txt"
    source.write_bytes(b"")
    uploaded: list[tuple[int, int]] = []
    store.upload_file(container, "empty.txt", source, progress=recorder(uploaded))
    assert uploaded == [(0, 0)]

    downloaded: list[tuple[int, int]] = []
    target = tmp_path / "copy.txt"
    store.download_file(container, "empty.txt", target, progress=recorder(downloaded))
    assert downloaded == [(0, 0)]


def test_progress_must_be_callable(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    with pytest.raises(TypeError, match="progress must be a callable"):
        store.upload_file(container, "a.txt", source, progress=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not 'int'"):
        store.download_file(
            container, "a.txt", tmp_path / "b.txt", progress=42  # type: ignore[arg-type]
        )


def test_failing_progress_does_not_stop_transfer(
    store: elb_py.BlobStore,
    container: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raised: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", raised.append)
    source = tmp_path / "a.bin"
    source.write_bytes(os.urandom(SIZE))

    def broken(bytes_done: int, bytes_total: int) -> None:
        raise RuntimeError(f"broken at {bytes_done} of {bytes_total}")

    report = store.upload_file(container, "a.bin", source, block_size=BLOCK, progress=broken)
    assert report["bytes"] == SIZE
    assert raised, "the exception did not reach sys.unraisablehook"
    assert isinstance(raised[-1].exc_value, RuntimeError)
    assert str(raised[-1].exc_value) == f"broken at {SIZE} of {SIZE}"
