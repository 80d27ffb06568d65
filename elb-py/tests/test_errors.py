"""Each exception class of elb_py, raised by a real failing operation on a loopback server."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from azure.storage.blob import (
    BlobServiceClient,
    ContainerSasPermissions,
    ContentSettings,
    generate_container_sas,
)

import elb_py

from conftest import CannedServer, Reply, closed_port_url

ACCOUNT_PATH = "/devstoreaccount1"


def sdk_client(azurite: dict[str, Any]) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(azurite["connection_string"])


def test_hierarchy_matches_builtins() -> None:
    assert issubclass(elb_py.NotFoundError, FileNotFoundError)
    assert issubclass(elb_py.AlreadyExistsError, FileExistsError)
    assert issubclass(elb_py.PermissionDeniedError, PermissionError)
    assert issubclass(elb_py.TimedOutError, TimeoutError)
    assert issubclass(elb_py.InvalidInputError, ValueError)
    assert issubclass(elb_py.TransportError, ConnectionError)
    for name in elb_py.__all__:
        value = getattr(elb_py, name)
        if isinstance(value, type) and name.endswith("Error"):
            assert issubclass(value, elb_py.ElbError)


def test_not_found(store: elb_py.BlobStore, container: str) -> None:
    with pytest.raises(elb_py.NotFoundError) as caught:
        store.download_bytes(container, "queries/missing.fa")
    error = caught.value
    assert isinstance(error, FileNotFoundError)
    assert error.kind == "not found"
    assert error.status == 404
    assert error.code == "BlobNotFound"
    assert error.target is not None and error.target.endswith(f"{container}/queries/missing.fa")
    assert "not found" in str(error)


def test_already_exists(store: elb_py.BlobStore, container: str) -> None:
    store.upload_bytes(container, "queries/a.fa", b">a\nACGT\n")
    with pytest.raises(elb_py.AlreadyExistsError) as caught:
        store.upload_bytes(container, "queries/a.fa", b">b\n", overwrite=False)
    assert caught.value.status == 409
    assert caught.value.code == "BlobAlreadyExists"


def test_precondition_failed_on_leased_blob(
    azurite_http: dict[str, Any], store: elb_py.BlobStore, container: str
) -> None:
    store.upload_bytes(container, "metadata/SUCCESS.txt", b"")
    blob = sdk_client(azurite_http).get_blob_client(container, "metadata/SUCCESS.txt")
    lease = blob.acquire_lease(lease_duration=-1)
    try:
        with pytest.raises(elb_py.PreconditionFailedError) as caught:
            store.delete_blob(container, "metadata/SUCCESS.txt")
        assert caught.value.status == 412
        assert caught.value.code == "LeaseIdMissing"
    finally:
        lease.release()


def test_permission_denied_with_read_only_sas(
    azurite_http: dict[str, Any], container: str
) -> None:
    sas = generate_container_sas(
        account_name=azurite_http["account"],
        container_name=container,
        account_key=azurite_http["key"],
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
    )
    reader = elb_py.BlobStore(azurite_http["blob_endpoint"], sas=sas)
    with pytest.raises(elb_py.PermissionDeniedError) as caught:
        reader.upload_bytes(container, "queries/denied.fa", b">x\n")
    error = caught.value
    assert isinstance(error, PermissionError)
    assert error.status == 403
    assert error.code == "AuthorizationPermissionMismatch"
    signature = sas.split("sig=")[1].split("&")[0]
    assert signature not in str(error)
    assert signature not in repr(getattr(error, "__notes__", []))


def test_conflict(canned: CannedServer) -> None:
    canned.blob_error(409, "LeaseAlreadyPresent")
    store = elb_py.BlobStore(canned.url + ACCOUNT_PATH, max_retries=0)
    with pytest.raises(elb_py.ConflictError) as caught:
        store.upload_bytes("results", "marker", b"x")
    assert caught.value.status == 409
    assert caught.value.code == "LeaseAlreadyPresent"


def test_throttled_after_retries(canned: CannedServer) -> None:
    canned.blob_error(503, "ServerBusy", **{"Retry-After": "7"})
    store = elb_py.BlobStore(canned.url + ACCOUNT_PATH, max_retries=0)
    with pytest.raises(elb_py.ThrottledError) as caught:
        store.properties("results", "a.out")
    assert caught.value.status == 503
    assert caught.value.code == "ServerBusy"


def test_invalid_input_names_value() -> None:
    with pytest.raises(elb_py.InvalidInputError) as caught:
        elb_py.BlobStore("not a url")
    assert isinstance(caught.value, ValueError)
    assert "not a url" in str(caught.value)


def test_invalid_container_name(store: elb_py.BlobStore) -> None:
    with pytest.raises(elb_py.InvalidInputError, match='container name "Bad_Name"'):
        store.upload_bytes("Bad_Name", "x", b"data")


def test_timed_out_past_deadline(canned: CannedServer) -> None:
    canned.reply = Reply(status=200, delay=3.0)
    store = elb_py.BlobStore(canned.url + ACCOUNT_PATH, max_retries=0, deadline=0.3)
    with pytest.raises(elb_py.TimedOutError) as caught:
        store.exists("results", "slow")
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.kind == "timed out"


def test_integrity_when_stored_md5_differs(
    azurite_http: dict[str, Any], store: elb_py.BlobStore, container: str
) -> None:
    blob = sdk_client(azurite_http).get_blob_client(container, "db/vol.00.nsq")
    blob.upload_blob(b"sequence data")
    # Set Blob Properties stores Content-MD5 as given, without checking it against the data.
    blob.set_http_headers(content_settings=ContentSettings(content_md5=bytearray(b"\x00" * 16)))
    with pytest.raises(elb_py.IntegrityError) as caught:
        store.download_bytes(container, "db/vol.00.nsq")
    assert caught.value.kind == "integrity check failed"


def test_unavailable_managed_identity() -> None:
    credential = elb_py.ManagedIdentityCredential(
        endpoint=closed_port_url(), max_retries=0, connect_timeout=0.5
    )
    with pytest.raises(elb_py.UnavailableError) as caught:
        credential.get_token("https://storage.azure.com/.default")
    assert caught.value.kind == "unavailable"


def test_transport_on_closed_port() -> None:
    store = elb_py.BlobStore(closed_port_url() + ACCOUNT_PATH, max_retries=0)
    with pytest.raises(elb_py.TransportError) as caught:
        store.exists("results", "a")
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.kind == "transport error"


def test_service_error(canned: CannedServer) -> None:
    canned.blob_error(500, "InternalError")
    store = elb_py.BlobStore(canned.url + ACCOUNT_PATH, max_retries=0)
    with pytest.raises(elb_py.ServiceError) as caught:
        store.download_bytes("results", "a.out")
    assert caught.value.status == 500
    assert caught.value.code == "InternalError"
    assert caught.value.__notes__ == ["caused by: InternalError from the canned server"]
