"""elb_py Entra ID credentials against the test token service of ``elb-test-servers``.

The token service runs over HTTPS with a certificate from the test CA. Its configuration has
one tenant and two applications: one with a federated credential for the elb OpenAPI service
account, one with a client secret. Its access tokens live four seconds, so the token cache of
a credential refreshes them after two seconds (half the lifetime).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import elb_py

from conftest import TENANT, _ensure_binary, servers

STORAGE_SCOPE = "https://storage.azure.com/.default"
CLIENT_ID = "5d6c1f0e-0d7a-4c55-9e0c-5b1d8a9e7c21"
SECRET_CLIENT_ID = "0b1e6f3a-7f4c-4d2e-8a51-3c9d2e1f4b60"
CLIENT_SECRET = "elb-test-secret~Qm3.kP9zR"
ISSUER = "https://oidc.127.0.0.1.test/issuer"
SUBJECT = "system:serviceaccount:default:elb-openapi-sa"
TOKEN_LIFETIME_SECS = 4


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The test Entra ID token service: ``url``, ``authority_host``, ``tenants``, ``ca_cert``."""
    config = {
        "tenants": [TENANT],
        "apps": [
            {
                "tenant": TENANT,
                "client_id": CLIENT_ID,
                "federated_credentials": [{"issuer": ISSUER, "subject": SUBJECT}],
            },
            {"tenant": TENANT, "client_id": SECRET_CLIENT_ID, "secrets": [CLIENT_SECRET]},
        ],
        "token_lifetime_secs": TOKEN_LIFETIME_SECS,
    }
    path = tmp_path_factory.mktemp("entra") / "entra.json"
    path.write_text(json.dumps(config))
    _ensure_binary()
    with servers.running_servers("--entra", str(path)) as running:
        yield {**running.info["entra"], "ca_cert": running.ca_cert}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def service_account_token(subject: str = SUBJECT, lifetime_secs: int = 3600) -> str:
    """Mint a projected service-account token like the kubelet writes for workload identity.

    The signature is random because the test token service checks claims, not signatures.
    """
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": ["api://AzureADTokenExchange"],
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + lifetime_secs,
        "jti": secrets.token_hex(8),
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": "elb-test"}
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(64)]
    return ".".join(_b64url(part) for part in parts)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    return dict(json.loads(base64.urlsafe_b64decode(padded)))


def workload_credential(entra: dict[str, Any], token_file: Path) -> elb_py.Credential:
    return elb_py.WorkloadIdentityCredential(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        token_file=token_file,
        authority_host=entra["authority_host"],
        ca_file=entra["ca_cert"],
        max_retries=0,
    )


def test_workload_identity_exchanges_token_file(entra: dict[str, Any], tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(service_account_token())
    credential = workload_credential(entra, token_file)

    before = int(time.time())
    token = credential.get_token(STORAGE_SCOPE)
    claims = claims_of(token.token)
    assert claims["aud"] == "https://storage.azure.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["appid"] == CLIENT_ID
    assert claims["tid"] == TENANT
    assert before + 1 <= token.expires_on <= int(time.time()) + TOKEN_LIFETIME_SECS + 1
    assert credential.method == "WorkloadIdentityCredential"


def test_workload_identity_rereads_rotated_file(entra: dict[str, Any], tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(service_account_token())
    credential = workload_credential(entra, token_file)
    first = credential.get_token(STORAGE_SCOPE)
    assert credential.get_token(STORAGE_SCOPE).token == first.token

    # The kubelet replaces the file with a new token for another subject. The federated
    # credential does not match it, so the refresh after half the lifetime fails only if
    # the credential read the file again.
    token_file.write_text(service_account_token(subject="system:serviceaccount:default:other"))
    time.sleep(TOKEN_LIFETIME_SECS + 0.5)
    with pytest.raises(elb_py.AuthenticationError, match="AADSTS70021") as caught:
        credential.get_token(STORAGE_SCOPE)
    assert "system:serviceaccount:default:other" in str(caught.value)

    # A valid token in the file again gives a new access token, from the same credential.
    rotated_assertion = service_account_token()
    token_file.write_text(rotated_assertion)
    second = credential.get_token(STORAGE_SCOPE)
    assert second.token != first.token
    assert second.expires_on >= first.expires_on + TOKEN_LIFETIME_SECS
    assert rotated_assertion not in str(caught.value)


def test_workload_identity_refreshes_after_half_life(
    entra: dict[str, Any], tmp_path: Path
) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(service_account_token())
    credential = workload_credential(entra, token_file)
    first = credential.get_token(STORAGE_SCOPE)

    token_file.write_text(service_account_token())
    time.sleep(TOKEN_LIFETIME_SECS / 2 + 0.5)
    second = credential.get_token(STORAGE_SCOPE)
    assert second.token != first.token
    assert claims_of(second.token)["uti"] != claims_of(first.token)["uti"]


def test_workload_identity_expired_assertion(entra: dict[str, Any], tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    assertion = service_account_token(lifetime_secs=-600)
    token_file.write_text(assertion)
    credential = workload_credential(entra, token_file)
    with pytest.raises(elb_py.AuthenticationError, match="AADSTS700024") as caught:
        credential.get_token(STORAGE_SCOPE)
    assert assertion not in str(caught.value)
    assert caught.value.status == 400


def test_client_secret_returns_token(entra: dict[str, Any]) -> None:
    credential = elb_py.ClientSecretCredential(
        TENANT,
        SECRET_CLIENT_ID,
        CLIENT_SECRET,
        authority_host=entra["authority_host"],
        ca_file=entra["ca_cert"],
        max_retries=0,
    )
    token = credential.get_token(STORAGE_SCOPE)
    claims = claims_of(token.token)
    assert claims["appid"] == SECRET_CLIENT_ID
    assert claims["aud"] == "https://storage.azure.com"
    assert credential.method == "ClientSecretCredential"
    assert CLIENT_SECRET not in repr(credential)


def test_client_secret_wrong_secret(entra: dict[str, Any]) -> None:
    wrong_secret = "wrong-secret~" + secrets.token_urlsafe(12)
    credential = elb_py.ClientSecretCredential(
        TENANT,
        SECRET_CLIENT_ID,
        wrong_secret,
        authority_host=entra["authority_host"],
        ca_file=entra["ca_cert"],
        max_retries=0,
    )
    with pytest.raises(elb_py.AuthenticationError) as caught:
        credential.get_token(STORAGE_SCOPE)
    error = caught.value
    assert "AADSTS7000215" in str(error)
    assert error.status == 401
    assert error.kind == "authentication failed"
    assert wrong_secret not in str(error)
    assert wrong_secret not in repr(error)
    assert all(wrong_secret not in str(arg) for arg in error.args)


def test_client_secret_unknown_tenant(entra: dict[str, Any]) -> None:
    credential = elb_py.ClientSecretCredential(
        "00000000-0000-0000-0000-00000000dead",
        SECRET_CLIENT_ID,
        CLIENT_SECRET,
        authority_host=entra["authority_host"],
        ca_file=entra["ca_cert"],
        max_retries=0,
    )
    with pytest.raises(elb_py.ElbError, match="AADSTS90002") as caught:
        credential.get_token(STORAGE_SCOPE)
    assert CLIENT_SECRET not in str(caught.value)


def test_default_chain_reports_workload_identity(
    entra: dict[str, Any], tmp_path: Path
) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(service_account_token())
    env = {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": entra["authority_host"],
    }
    chain = elb_py.DefaultChain(
        env=env,
        ca_file=entra["ca_cert"],
        exclude=["managed_identity", "azure_cli"],
        max_retries=0,
    )
    assert chain.method is None

    token = chain.get_token(STORAGE_SCOPE)
    assert claims_of(token.token)["appid"] == CLIENT_ID
    assert chain.method == "WorkloadIdentityCredential"
    assert chain.last_used is not None
