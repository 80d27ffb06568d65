"""The token types that elb_py credentials return.

They are ``azure.core.credentials.AccessToken`` and ``AccessTokenInfo`` when azure-core is
installed, so Azure SDK clients accept them, and compatible local classes otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

__all__ = ["AccessToken", "AccessTokenInfo"]


class _AccessToken(NamedTuple):
    """An access token and its expiry as a UNIX time in seconds."""

    token: str
    expires_on: int

    def __repr__(self) -> str:
        return f"AccessToken(token='***', expires_on={self.expires_on})"


class _AccessTokenInfo:
    """An access token with its expiry, type and suggested refresh time."""

    def __init__(
        self,
        token: str,
        expires_on: int,
        *,
        token_type: str = "Bearer",
        refresh_on: int | None = None,
    ) -> None:
        self.token = token
        self.expires_on = expires_on
        self.token_type = token_type
        self.refresh_on = refresh_on

    def __repr__(self) -> str:
        return (
            f"AccessTokenInfo(token='***', expires_on={self.expires_on}, "
            f"token_type={self.token_type!r}, refresh_on={self.refresh_on})"
        )


if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo
else:
    try:
        from azure.core.credentials import AccessToken, AccessTokenInfo
    except ImportError:  # azure-core is optional
        AccessToken = _AccessToken
        AccessTokenInfo = _AccessTokenInfo
