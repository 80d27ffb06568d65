"""Download options against Azurite: range size, concurrency and MD5 verification."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import elb_py


def test_download_in_small_ranges(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    data = os.urandom(100_003)
    store.upload_bytes(container, "db/part.bin", data)

    report = store.download_file(
        container, "db/part.bin", tmp_path / "part.bin", range_size=4096, concurrency=3
    )
    assert (tmp_path / "part.bin").read_bytes() == data
    assert report["bytes"] == len(data)
    assert report["verified"] is True

    fetched = store.download_bytes(container, "db/part.bin", range_size=1000, concurrency=1)
    assert fetched == data


def test_download_without_md5_check(store: elb_py.BlobStore, container: str) -> None:
    store.upload_bytes(container, "q.fa", b">q\nACGT\n")
    fetched = store.download_bytes(container, "q.fa", verify_md5=False)
    assert fetched == b">q\nACGT\n"


def test_download_reports_unverified(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    store.upload_bytes(container, "q.fa", b">q\nACGT\n")
    report = store.download_file(container, "q.fa", tmp_path / "q.fa", verify_md5=False)
    assert report["verified"] is False
    assert report["content_md5"] is not None


def test_download_rejects_zero_options(store: elb_py.BlobStore, container: str) -> None:
    with pytest.raises(elb_py.InvalidInputError, match="range_size=0"):
        store.download_bytes(container, "q.fa", range_size=0)
    with pytest.raises(elb_py.InvalidInputError, match="concurrency=0"):
        store.download_bytes(container, "q.fa", concurrency=0)


def test_download_async_with_options(store: elb_py.BlobStore, container: str) -> None:
    data = os.urandom(20_000)
    store.upload_bytes(container, "a.bin", data)

    async def fetch() -> bytes:
        return await store.download_bytes_async(container, "a.bin", range_size=3000)

    assert asyncio.run(fetch()) == data
