"""`/api/v1/auth/*`: register, login, refresh, logout."""

from __future__ import annotations

from typing import Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from api.auth import auth_ports, client_ip
from api.bodies import read_json
from api.consistency import settle
from api.limits import per_client, settings_of
from api.rendering import json_response, no_content
from api.users import UserOut, user_out
from domain.services import sessions
from domain.services.sessions import SignedIn
from projections.accounts import account_row


class RegisterIn(msgspec.Struct):
    email: str
    password: str
    name: str | None = None


class LoginIn(msgspec.Struct):
    email: str
    password: str


class RefreshIn(msgspec.Struct):
    refresh_token: str


class TokensOut(msgspec.Struct):
    user: UserOut
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int


async def _tokens(request: Request, signed_in: SignedIn, status: int) -> Response:
    await settle(request, signed_in.notification_id)
    account = signed_in.account
    body = TokensOut(
        user=await user_out(request, account_row(account), account.plan),
        access_token=signed_in.access_token,
        refresh_token=signed_in.refresh_token,
        token_type="Bearer",
        expires_in=signed_in.expires_in,
    )
    # tokens must not sit in shared or browser caches
    return json_response(body, status, headers={"Cache-Control": "no-store"})


async def register(request: Request) -> Response:
    limit = settings_of(request).register_rate
    await per_client(
        request,
        "register",
        limit=limit,
        window_s=3600,
        refusal=f"At most {limit} sign-ups per hour come from one network.",
    )
    body = await read_json(request, RegisterIn)
    signed_in = await sessions.register(auth_ports(request), body.email, body.password, body.name)
    return await _tokens(request, signed_in, 201)


async def login(request: Request) -> Response:
    body = await read_json(request, LoginIn)
    signed_in = await sessions.login(
        auth_ports(request), body.email, body.password, client_ip(request)
    )
    return await _tokens(request, signed_in, 200)


async def refresh(request: Request) -> Response:
    limit = settings_of(request).refresh_rate
    await per_client(
        request,
        "refresh",
        limit=limit,
        window_s=60,
        refusal=f"At most {limit} token refreshes per minute come from one network.",
    )
    body = await read_json(request, RefreshIn)
    signed_in = await sessions.refresh(auth_ports(request), body.refresh_token)
    return await _tokens(request, signed_in, 200)


async def logout(request: Request) -> Response:
    body = await read_json(request, RefreshIn)
    await settle(request, await sessions.logout(auth_ports(request), body.refresh_token))
    return no_content()
