"""Upload checksum options: the stored MD5 and the checksum header of each request body."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

import pytest

import elb_py

from conftest import CannedServer, Reply


def test_upload_without_stored_md5(
    store: elb_py.BlobStore, container: str, tmp_path: Path
) -> None:
    # More than the 4 MiB single-request maximum, so the upload commits a block list,
    # for which the service computes no MD5 itself.
    data = os.urandom(5 * 1024 * 1024 + 17)
    source = tmp_path / "part.bin"
    source.write_bytes(data)
    report = store.upload_file(
        container, "part.bin", source, block_size=1024 * 1024, put_md5=False, checksum="none"
    )
    assert report["blocks"] == 6
    assert report["content_md5"] is None

    download = store.download_file(container, "part.bin", tmp_path / "copy.bin")
    assert download["content_md5"] is None
    assert download["verified"] is False
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_upload_stores_md5_by_default(store: elb_py.BlobStore, container: str) -> None:
    data = b">q\nACGT\n" * 100
    report = store.upload_bytes(container, "q.fa", data)
    assert report["content_md5"] == hashlib.md5(data).hexdigest()


def test_upload_rejects_unknown_checksum(store: elb_py.BlobStore, container: str) -> None:
    with pytest.raises(elb_py.InvalidInputError, match='checksum="sha256"'):
        store.upload_bytes(container, "q.fa", b"x", checksum="sha256")  # type: ignore[arg-type]


def test_upload_auto_falls_back_on_azurite(
    store: elb_py.BlobStore, container: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The test Azurite runs without --loose, so it rejects x-ms-content-crc64 and the
    # default checksum resends with Content-MD5.
    caplog.set_level(logging.WARNING, logger="elb")
    data = os.urandom(5 * 1024 * 1024 + 17)
    source = tmp_path / "staged.bin"
    source.write_bytes(data)
    report = store.upload_file(container, "staged.bin", source, block_size=1024 * 1024)
    assert report["blocks"] == 6
    assert report["content_md5"] == hashlib.md5(data).hexdigest()

    small = b">q\nACGT\n" * 10
    report = store.upload_bytes(container, "small.fa", small, checksum="auto")
    assert report["blocks"] == 0
    assert report["content_md5"] == hashlib.md5(small).hexdigest()

    download = store.download_file(container, "staged.bin", tmp_path / "copy.bin")
    assert download["verified"] is True
    assert (tmp_path / "copy.bin").read_bytes() == data
    assert store.download_bytes(container, "small.fa") == small

    # The store switched once, for both uploads.
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "x-ms-content-crc64" in record.getMessage()
    ]
    assert len(warnings) == 1


def test_upload_crc64_rejected_by_azurite(store: elb_py.BlobStore, container: str) -> None:
    with pytest.raises(elb_py.InvalidInputError) as raised:
        store.upload_bytes(container, "q.fa", b">q\nACGT\n", checksum="crc64")
    message = str(raised.value)
    assert "x-ms-content-crc64" in message
    assert 'checksum="md5"' in message
    assert "--loose" in message


@pytest.mark.parametrize(
    ("checksum", "header"),
    [
        ("auto", "x-ms-content-crc64"),
        ("md5", "content-md5"),
        ("crc64", "x-ms-content-crc64"),
        ("none", None),
    ],
)
def test_upload_checksum_header(
    canned: CannedServer, checksum: str, header: str | None
) -> None:
    canned.reply = Reply(
        status=201,
        headers={"ETag": '"0x8DCC0FFEE"', "Last-Modified": "Fri, 04 Dec 2026 16:00:00 GMT"},
    )
    account_url = canned.url + "/devstoreaccount1"
    store = elb_py.BlobStore(account_url, sas="sv=2021-08-06&sig=abc", max_retries=0)
    data = b">q\nACGT\n"
    store.upload_bytes(
        "queries", "q.fa", data, put_md5=False, checksum=checksum  # type: ignore[arg-type]
    )

    headers = canned.requests[-1]["headers"]
    checksum_headers = {"content-md5", "x-ms-content-crc64"} & set(headers)
    if header is None:
        assert checksum_headers == set()
    else:
        assert checksum_headers == {header}
    if checksum == "md5":
        assert headers["content-md5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert "x-ms-blob-content-md5" not in headers
