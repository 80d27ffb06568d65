"""The ``elb-test-servers`` binary, used from Python with the Azure SDK for Python."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.blob import BlobServiceClient

from servers import binary_path, mint_storage_token, running_servers

TENANT = "72f988bf-0000-0000-0000-00000000e1b0"

# Every byte value, several times, so that a text decoding step on the way would show.
PAYLOAD = bytes(range(256)) * 4096 + b"tail"


class StaticTokenCredential:
    """A TokenCredential that returns one minted token for every scope."""

    def __init__(self, token: str, expires_on: int) -> None:
        self.token = token
        self.expires_on = expires_on
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token, self.expires_on)


def round_trip(service: BlobServiceClient, container_name: str) -> bytes:
    container = service.create_container(container_name)
    blob = container.get_blob_client("dir/data.bin")
    blob.upload_blob(PAYLOAD, overwrite=True)
    return blob.download_blob().readall()


def test_http_connection_string_round_trip() -> None:
    with running_servers("--azurite", "http") as servers:
        azurite = servers.azurite
        assert azurite["https"] is False
        assert azurite["account"] == "devstoreaccount1"
        assert azurite["blob_endpoint"].startswith("http://127.0.0.1:")
        assert f"BlobEndpoint={azurite['blob_endpoint']};" in azurite["connection_string"]

        service = BlobServiceClient.from_connection_string(azurite["connection_string"])
        downloaded = round_trip(service, "python-http")

    assert downloaded == PAYLOAD


def test_https_bearer_token_round_trip() -> None:
    with running_servers("--azurite", "https") as servers:
        azurite = servers.azurite
        assert azurite["https"] is True
        assert azurite["blob_endpoint"].startswith("https://127.0.0.1:")

        lifetime = 3600
        credential = StaticTokenCredential(
            mint_storage_token(TENANT, lifetime), int(time.time()) + lifetime
        )
        service = BlobServiceClient(
            azurite["blob_endpoint"],
            credential=credential,
            connection_verify=servers.ca_cert,
        )
        downloaded = round_trip(service, "python-https")

    assert downloaded == PAYLOAD
    assert credential.scopes == ["https://storage.azure.com/.default"] * len(
        credential.scopes
    )
    assert credential.scopes


def test_https_expired_token_is_rejected() -> None:
    with running_servers("--azurite", "https") as servers:
        credential = StaticTokenCredential(
            mint_storage_token(TENANT, -600), int(time.time()) + 3600
        )
        service = BlobServiceClient(
            servers.azurite["blob_endpoint"],
            credential=credential,
            connection_verify=servers.ca_cert,
        )
        with pytest.raises(ClientAuthenticationError) as raised:
            service.create_container("expired")

    assert raised.value.status_code == 403
    assert getattr(raised.value, "error_code", None) == "AuthenticationFailed"


def test_servers_stop_when_stdin_closes() -> None:
    with running_servers("--azurite", "http") as servers:
        process = servers.process
        assert process.poll() is None
        endpoint = servers.azurite["blob_endpoint"]

    assert process.returncode == 0
    service = BlobServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={servers.azurite['key']};BlobEndpoint={endpoint};",
        retry_total=0,
        connection_timeout=2,
    )
    with pytest.raises(Exception) as raised:
        service.get_service_properties()
    assert "refused" in str(raised.value).lower()


def test_without_flags_prints_only_ca() -> None:
    with running_servers() as servers:
        assert set(servers.info) == {"ca_cert"}
        with open(servers.ca_cert, encoding="ascii") as pem:
            assert pem.read().startswith("-----BEGIN CERTIFICATE-----")


def test_invalid_flag_exits_with_usage_error() -> None:
    result = subprocess.run(
        [str(binary_path()), "--azurite", "ftp"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b'invalid value "ftp" for --azurite' in result.stderr
    assert result.stdout == b""


def test_description_is_one_json_line() -> None:
    result = subprocess.run(
        [str(binary_path()), "--azurite", "http"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1
    description = json.loads(lines[0])
    assert set(description) == {"ca_cert", "azurite"}
    assert set(description["azurite"]) == {
        "blob_endpoint",
        "account",
        "key",
        "connection_string",
        "https",
    }
