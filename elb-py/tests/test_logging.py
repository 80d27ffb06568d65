"""Rust tracing events reach Python logging under the ``elb`` logger."""

from __future__ import annotations

import logging

import pytest

import elb_py

from conftest import CannedServer


def test_debug_records_under_elb(
    caplog: pytest.LogCaptureFixture, store: elb_py.BlobStore, container: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="elb")
    # With the default checksum, Azurite's rejection of CRC-64 would log a warning first.
    store.upload_bytes(container, "logs/a.txt", b"hello", checksum="md5")

    records = [record for record in caplog.records if record.name.startswith("elb.")]
    assert records, "no record under the elb logger"
    blob_records = [record for record in records if record.name.startswith("elb.blob")]
    assert blob_records, f"no elb.blob record among {[r.name for r in records]}"
    record = blob_records[0]
    assert record.levelno == logging.DEBUG
    assert record.pathname.endswith(".rs")
    assert record.elb_fields["blob.container"] == container  # type: ignore[attr-defined]
    assert f"blob.container={container}" in record.getMessage()


def test_nothing_forwarded_below_level(
    caplog: pytest.LogCaptureFixture, store: elb_py.BlobStore, container: str
) -> None:
    caplog.set_level(logging.WARNING, logger="elb")
    # An upload with MD5 logs nothing at WARNING, unlike the CRC-64 fallback of the default.
    store.upload_bytes(container, "logs/b.txt", b"hello", checksum="md5")
    assert [record for record in caplog.records if record.name.startswith("elb.")] == []


def test_retry_logged_at_info(caplog: pytest.LogCaptureFixture, canned: CannedServer) -> None:
    caplog.set_level(logging.INFO, logger="elb")
    canned.blob_error(500, "InternalError")
    store = elb_py.BlobStore(canned.url + "/devstoreaccount1", max_retries=1)
    with pytest.raises(elb_py.ServiceError):
        store.download_bytes("results", "a.out")

    info = [r for r in caplog.records if r.name.startswith("elb.") and r.levelno == logging.INFO]
    assert info, "the retry produced no INFO record"
    assert any("retry" in record.getMessage().lower() for record in info)
    forwarded = [record for record in caplog.records if record.name.startswith("elb.")]
    assert all(record.levelno >= logging.INFO for record in forwarded)


def test_child_logger_level_enables_forwarding(
    caplog: pytest.LogCaptureFixture, store: elb_py.BlobStore, container: str
) -> None:
    caplog.set_level(logging.WARNING, logger="elb")
    child = logging.getLogger("elb.blob")
    previous = child.level
    child.setLevel(logging.DEBUG)
    try:
        caplog.set_level(logging.DEBUG)  # the capture handler itself must accept DEBUG
        logging.getLogger("elb").setLevel(logging.WARNING)
        store.upload_bytes(container, "logs/c.txt", b"hello")
    finally:
        child.setLevel(previous)
    names = {record.name for record in caplog.records if record.name.startswith("elb.")}
    assert names, "setting elb.blob to DEBUG forwarded nothing"
    assert all(name.startswith("elb.blob") for name in names)
