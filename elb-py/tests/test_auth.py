"""elb_py credentials: the TokenCredential protocol, the default chain, and Azure SDK interop."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.storage.blob import BlobServiceClient

import elb_py

from conftest import TENANT, CannedServer, closed_port_url


STORAGE_SCOPE = "https://storage.azure.com/.default"


def test_managed_identity_returns_access_token(imds: CannedServer) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url, client_id="client-123")
    assert credential.last_used is None

    before = time.time()
    token = credential.get_token(STORAGE_SCOPE)
    assert isinstance(token, AccessToken)
    assert token.token.count(".") == 2
    assert token.expires_on > int(before) + 3000
    assert credential.method == "ManagedIdentityCredential"
    assert credential.last_used is not None and credential.last_used >= before

    request = imds.requests[0]
    assert request["path"] == "/metadata/identity/oauth2/token"
    assert request["query"]["resource"] == ["https://storage.azure.com"]
    assert request["query"]["client_id"] == ["client-123"]
    assert request["headers"]["metadata"] == "true"


def test_get_token_info_returns_info(imds: CannedServer) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url)
    info = credential.get_token_info(STORAGE_SCOPE)
    assert isinstance(info, AccessTokenInfo)
    assert info.token_type == "Bearer"
    assert info.expires_on > int(time.time())


@pytest.mark.asyncio
async def test_get_token_async(imds: CannedServer) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url)
    tokens = await asyncio.gather(
        credential.get_token_async(STORAGE_SCOPE), credential.get_token_async(STORAGE_SCOPE)
    )
    assert tokens[0].token == tokens[1].token


def test_get_token_rejects_two_scopes(imds: CannedServer) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url)
    with pytest.raises(elb_py.InvalidInputError, match="exactly one scope, got 2"):
        credential.get_token(STORAGE_SCOPE, "https://management.azure.com/.default")


def test_user_assigned_ids_are_exclusive() -> None:
    with pytest.raises(elb_py.InvalidInputError, match="more than one of client_id"):
        elb_py.ManagedIdentityCredential(
            client_id="a", object_id="b", endpoint="http://127.0.0.1:1"
        )


def test_default_chain_reports_managed_identity(imds: CannedServer) -> None:
    chain = elb_py.DefaultChain(env={}, imds_endpoint=imds.url, exclude=["azure_cli"])
    assert chain.credential_names == ["ManagedIdentityCredential"]
    assert chain.method is None

    chain.get_token(STORAGE_SCOPE)
    assert chain.method == "ManagedIdentityCredential"


def test_default_chain_rejects_half_configured_workload_identity(tmp_path: Any) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("assertion")
    with pytest.raises(elb_py.InvalidInputError, match="AZURE_CLIENT_ID is not") as caught:
        elb_py.DefaultChain(env={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    assert caught.value.code == "WorkloadIdentityClientIdMissing"


def test_default_chain_exhausted_lists_reasons() -> None:
    chain = elb_py.DefaultChain(
        env={}, imds_endpoint=closed_port_url(), exclude=["azure_cli"], max_retries=0
    )
    with pytest.raises(elb_py.UnavailableError) as caught:
        chain.get_token(STORAGE_SCOPE)
    message = str(caught.value)
    assert "ClientSecretCredential skipped" in message
    assert "WorkloadIdentityCredential skipped" in message
    assert "ManagedIdentityCredential failed" in message


def test_unknown_credential_name_in_exclude() -> None:
    with pytest.raises(elb_py.InvalidInputError, match='unknown credential "cli"'):
        elb_py.DefaultChain(env={}, exclude=["cli"])


def test_azure_sdk_uses_elb_credential(azurite_https: dict[str, Any], imds: CannedServer) -> None:
    credential = elb_py.ManagedIdentityCredential(endpoint=imds.url)
    service = BlobServiceClient(
        azurite_https["blob_endpoint"],
        credential=credential,
        connection_verify=azurite_https["ca_cert"],
    )
    container = service.create_container(f"sdk{uuid.uuid4().hex[:12]}")
    container.upload_blob("queries/q.fa", b">q\nACGT\n")
    assert container.download_blob("queries/q.fa").readall() == b">q\nACGT\n"
    assert credential.method == "ManagedIdentityCredential"
    assert len(imds.requests) >= 1

    # The same credential also authorizes elb's own client over HTTPS.
    store = elb_py.BlobStore(
        azurite_https["blob_endpoint"], credential=credential, ca_file=azurite_https["ca_cert"]
    )
    assert store.download_bytes(container.container_name, "queries/q.fa") == b">q\nACGT\n"
    container.delete_container()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_authentication_when_token_audience_is_wrong(
    azurite_https: dict[str, Any], canned: CannedServer
) -> None:
    now = int(time.time())
    claims = {
        "iss": f"https://sts.windows.net/{TENANT}/",
        "aud": "https://management.azure.com",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "tid": TENANT,
    }
    header = {"alg": "RS256", "typ": "JWT"}
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), b"signature"]
    token = ".".join(_b64url(part) for part in parts)
    canned.token(token)
    store = elb_py.BlobStore(
        azurite_https["blob_endpoint"],
        credential=elb_py.ManagedIdentityCredential(endpoint=canned.url),
        ca_file=azurite_https["ca_cert"],
        max_retries=0,
    )
    with pytest.raises(elb_py.AuthenticationError) as caught:
        store.list_blobs("queries")
    assert caught.value.status in (401, 403)
    assert token not in str(caught.value)
