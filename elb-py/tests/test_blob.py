"""Blob operations of elb_py.BlobStore against Azurite."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

import elb_py

FASTA = b">query1\nACGTACGTACGTTTGACCA\n>query2\nMKV\n"


def test_upload_bytes_and_download(store: elb_py.BlobStore, container: str) -> None:
    report = store.upload_bytes(container, "queries/abc123.fa", FASTA)
    assert report["bytes"] == len(FASTA)
    assert report["content_md5"] == hashlib.md5(FASTA).hexdigest()
    assert report["etag"]

    assert store.download_bytes(container, "queries/abc123.fa") == FASTA


def test_upload_accepts_bytearray(store: elb_py.BlobStore, container: str) -> None:
    store.upload_bytes(container, "a.bin", bytearray(b"\x00\x01\x02"))
    assert store.download_bytes(container, "a.bin") == b"\x00\x01\x02"


def test_file_round_trip_with_pathlike(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    data = os.urandom(5 * 1024 * 1024 + 17)
    source.write_bytes(data)

    report = store.upload_file(container, "db/big.bin", source, block_size=1024 * 1024)
    assert report["bytes"] == len(data)
    assert report["blocks"] == 6

    target = tmp_path / "out" / "big.bin"
    target.parent.mkdir()
    download = store.download_file(container, "db/big.bin", str(target))
    assert download["bytes"] == len(data)
    assert download["verified"] is True
    assert target.read_bytes() == data


def test_properties_exists_and_delete(store: elb_py.BlobStore, container: str) -> None:
    store.upload_bytes(container, "r/x.out", b"12345", content_type="text/plain")
    properties = store.properties(container, "r/x.out")
    assert properties["size"] == 5
    assert properties["content_type"] == "text/plain"
    assert properties["last_modified"].endswith("Z")

    assert store.exists(container, "r/x.out") is True
    assert store.delete_blob(container, "r/x.out") is True
    assert store.exists(container, "r/x.out") is False
    assert store.delete_blob(container, "r/x.out", missing_ok=True) is False


def test_container_create_is_idempotent(store: elb_py.BlobStore, container: str) -> None:
    assert store.create_container(container) is False
    assert store.delete_container(container) is True
    assert store.delete_container(container, missing_ok=True) is False


def test_list_blobs_with_prefix(store: elb_py.BlobStore, container: str) -> None:
    for name in ["res/a/1.out", "res/a/2.out", "res/b/3.out", "other.txt"]:
        store.upload_bytes(container, name, name.encode())
    listed = store.list_blobs(container, "res/a/")
    assert [item["name"] for item in listed] == ["res/a/1.out", "res/a/2.out"]
    assert listed[0]["size"] == len(b"res/a/1.out")
    assert len(store.list_blobs(container)) == 4


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "batch_000-blastn-db.out.gz": b"gz-bytes-0" * 100,
        "batch_001-blastn-db.out.gz": b"gz-bytes-1" * 100,
        "metadata/SUCCESS.txt": b"",
        "logs/setup.log": b"log line\n",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def test_upload_dir_and_download_prefix_with_patterns(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    files = make_tree(tmp_path / "src")
    events: list[dict[str, Any]] = []

    report = store.upload_dir(tmp_path / "src", container, "results/job-1", progress=events.append)
    assert report["files"] == 4
    assert report["failed"] == []
    assert events[0]["stage"] == "started"
    assert events[-1]["stage"] == "finished"
    assert events[-1]["files_done"] == 4

    target = tmp_path / "dst"
    report = store.download_prefix(container, "results/job-1", target, include="*.out.gz")
    assert report["files"] == 2
    assert report["skipped"] == 2
    downloaded = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert downloaded == ["batch_000-blastn-db.out.gz", "batch_001-blastn-db.out.gz"]
    assert (target / "batch_000-blastn-db.out.gz").read_bytes() == files[
        "batch_000-blastn-db.out.gz"
    ]


def test_delete_prefix_counts_blobs(store: elb_py.BlobStore, container: str) -> None:
    for index in range(5):
        store.upload_bytes(container, f"results/job-2/f{index}", b"x")
    store.upload_bytes(container, "results/job-3/keep", b"x")

    assert store.delete_prefix(container, "results/job-2") == 5
    assert [item["name"] for item in store.list_blobs(container)] == ["results/job-3/keep"]


def test_zip_prefix_to_file_object(store: elb_py.BlobStore, container: str) -> None:
    store.upload_bytes(container, "results/j/metadata/SUCCESS.txt", b"ok")
    store.upload_bytes(container, "results/j/batch_000.out.gz", b"\x1f\x8b" + b"z" * 300)

    buffer = io.BytesIO()
    report = store.zip_prefix(container, "results/j", buffer)
    assert report["entries"] == ["batch_000.out.gz", "metadata/SUCCESS.txt"]
    assert report["archive_bytes"] == len(buffer.getvalue())

    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        assert archive.namelist() == ["batch_000.out.gz", "metadata/SUCCESS.txt"]
        assert archive.read("metadata/SUCCESS.txt") == b"ok"


def test_zip_prefix_to_path(store: elb_py.BlobStore, container: str, tmp_path: Path) -> None:
    store.upload_bytes(container, "results/k/a.out", b"alpha" * 50)
    output = tmp_path / "results.zip"
    store.zip_prefix(container, "results/k", output, deflate=True)
    with zipfile.ZipFile(output) as archive:
        assert archive.read("a.out") == b"alpha" * 50
        assert archive.getinfo("a.out").compress_type == zipfile.ZIP_DEFLATED


def test_zip_output_must_be_path_or_writer(store: elb_py.BlobStore, container: str) -> None:
    with pytest.raises(elb_py.InvalidInputError, match="neither a path nor a binary file"):
        store.zip_prefix(container, "results/k", 42)
