"""The local token classes used when azure-core is not installed."""

from __future__ import annotations

from elb_py._tokens import _AccessToken, _AccessTokenInfo

SECRET = "eyJ0eXAiOiJKV1QifQ.secret-payload.signature"


def test_access_token_repr_hides_token() -> None:
    token = _AccessToken(SECRET, 1_700_000_000)
    assert repr(token) == "AccessToken(token='***', expires_on=1700000000)"
    assert SECRET not in str(token)


def test_access_token_keeps_tuple_fields() -> None:
    token = _AccessToken(SECRET, 1_700_000_000)
    assert token.token == SECRET
    assert token.expires_on == 1_700_000_000
    assert tuple(token) == (SECRET, 1_700_000_000)


def test_access_token_info_repr_hides_token() -> None:
    info = _AccessTokenInfo(SECRET, 1_700_000_000, refresh_on=1_699_999_000)
    assert SECRET not in repr(info)
    assert "expires_on=1700000000" in repr(info)
