"""The test Entra ID and managed identity services, used by the real ``azure-identity``.

``WorkloadIdentityCredential`` and ``ManagedIdentityCredential`` (azure-identity 1.27 with
MSAL) get tokens from the servers that ``elb-test-servers --entra CONFIG.json --msi``
starts. Environment variables are set per test with ``monkeypatch``, so the credentials
reach only those loopback servers and never 169.254.169.254.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CredentialUnavailableError,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from servers import RunningServers, running_servers

TENANT = "72f988bf-0000-4000-8000-0000000000b1"
CLIENT_ID = "0b1e0b1e-0000-4000-8000-000000000001"
ISSUER = "https://oidc.test/elb-cluster/"
SUBJECT = "system:serviceaccount:default:elb-openapi-sa"
STORAGE_SCOPE = "https://storage.azure.com/.default"

# Variables that would point a credential at another endpoint or proxy.
IDENTITY_VARIABLES = [
    "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def service_account_token(subject: str, lifetime_secs: int = 3600) -> str:
    """Mint a projected service-account token as the workload identity webhook mounts it.

    The signature is random, because the test token service checks claims, not signatures.
    """
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": ["api://AzureADTokenExchange"],
        "iat": now - 1,
        "nbf": now - 1,
        "exp": now + lifetime_secs,
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": "elb-test"}
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(64)]
    return ".".join(_b64url(part) for part in parts)


def token_claims(token: str) -> dict[str, Any]:
    """Decode the payload of a compact JWT without checking its signature."""
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServers]:
    config = {
        "tenants": [TENANT],
        "apps": [
            {
                "tenant": TENANT,
                "client_id": CLIENT_ID,
                "federated_credentials": [{"issuer": ISSUER, "subject": SUBJECT}],
            }
        ],
    }
    config_path = tmp_path_factory.mktemp("entra") / "entra.json"
    config_path.write_text(json.dumps(config))
    with running_servers("--entra", str(config_path), "--msi") as running:
        yield running


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, servers: RunningServers) -> pytest.MonkeyPatch:
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # azure-core's requests transport trusts the CA bundle named here.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", servers.ca_cert)
    return monkeypatch


def workload_credential(
    servers: RunningServers, token_file: Path, subject: str
) -> WorkloadIdentityCredential:
    token_file.write_text(service_account_token(subject))
    return WorkloadIdentityCredential(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        token_file_path=str(token_file),
        authority=servers.info["entra"]["authority_host"],
        # Instance discovery would ask login.microsoftonline.com about the authority.
        disable_instance_discovery=True,
    )


def test_workload_identity_gets_storage_token(
    servers: RunningServers, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credential = workload_credential(servers, tmp_path / "token", SUBJECT)
    token = credential.get_token(STORAGE_SCOPE)

    claims = token_claims(token.token)
    assert claims["aud"] == "https://storage.azure.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["appid"] == CLIENT_ID
    assert claims["tid"] == TENANT
    assert token.expires_on > time.time() + 3000


def test_workload_identity_error_carries_aadsts_code(
    servers: RunningServers, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credential = workload_credential(
        servers, tmp_path / "token", "system:serviceaccount:default:someone-else"
    )
    with pytest.raises(ClientAuthenticationError) as raised:
        credential.get_token(STORAGE_SCOPE)

    message = str(raised.value)
    assert "AADSTS70021" in message
    assert "system:serviceaccount:default:someone-else" in message


def test_imds_shape_gives_system_assigned_token(
    servers: RunningServers, clean_env: pytest.MonkeyPatch
) -> None:
    msi = servers.info["msi"]
    clean_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", msi["imds_authority"])
    credential = ManagedIdentityCredential()
    token = credential.get_token(STORAGE_SCOPE)

    claims = token_claims(token.token)
    assert claims["aud"] == "https://storage.azure.com"
    assert claims["appid"] == msi["system_client_id"]
    assert claims["tid"] == msi["tenant"]
    assert token.expires_on > time.time() + 80_000


def test_imds_shape_selects_user_assigned(
    servers: RunningServers, clean_env: pytest.MonkeyPatch
) -> None:
    msi = servers.info["msi"]
    user = msi["user_assigned"][0]
    clean_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", msi["imds_authority"])
    credential = ManagedIdentityCredential(client_id=user["client_id"])
    token = credential.get_token(STORAGE_SCOPE)

    claims = token_claims(token.token)
    assert claims["appid"] == user["client_id"]
    assert claims["oid"] == user["object_id"]


def test_imds_shape_unknown_identity_fails(
    servers: RunningServers, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", servers.info["msi"]["imds_authority"])
    credential = ManagedIdentityCredential(client_id="0dead000-0000-4000-8000-000000000000")
    with pytest.raises(CredentialUnavailableError) as raised:
        credential.get_token(STORAGE_SCOPE)

    assert "Identity not found" in str(raised.value)


def test_app_service_shape_gives_token(
    servers: RunningServers, clean_env: pytest.MonkeyPatch
) -> None:
    msi = servers.info["msi"]
    clean_env.setenv("IDENTITY_ENDPOINT", msi["identity_endpoint"])
    clean_env.setenv("IDENTITY_HEADER", msi["identity_header"])
    credential = ManagedIdentityCredential()
    token = credential.get_token(STORAGE_SCOPE)

    claims = token_claims(token.token)
    assert claims["aud"] == "https://storage.azure.com"
    assert claims["appid"] == msi["system_client_id"]


def test_app_service_shape_rejects_wrong_header(
    servers: RunningServers, clean_env: pytest.MonkeyPatch
) -> None:
    msi = servers.info["msi"]
    clean_env.setenv("IDENTITY_ENDPOINT", msi["identity_endpoint"])
    clean_env.setenv("IDENTITY_HEADER", "not-the-header")
    credential = ManagedIdentityCredential()
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)) as raised:
        credential.get_token(STORAGE_SCOPE)

    assert "X-IDENTITY-HEADER" in str(raised.value)
