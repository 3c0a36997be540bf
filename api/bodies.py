"""Reading request bodies into msgspec structs, with the errors of API.md."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from api.errors import ApiError

T = TypeVar("T")

MAX_BODY = 1024 * 1024  # 1 MiB

_PATH = re.compile(r"at `\$(?P<path>[^`]*)`")
_REGEX = re.compile(r"Expected `str` matching regex '.*'", re.DOTALL)

#: what a text pattern of a body field means, in words: msgspec's own message quotes the
#: regex, which tells a person (or a dashboard form) nothing
_PATTERN_WORDS: dict[str, str] = {}


def worded_pattern(pattern: str, words: str, **meta: Any) -> msgspec.Meta:
    """`msgspec.Meta(pattern=…)` whose refusal says `Expected <words>.` instead of the regex
    (`words` is also the OpenAPI description)."""
    _PATTERN_WORDS[repr(pattern)[1:-1]] = words
    return msgspec.Meta(pattern=pattern, description=words, **meta)


def _field_of(message: str) -> str | None:
    """msgspec says "... - at `$.urls[3]`"; API.md names fields `urls[3]`."""
    m = _PATH.search(message)
    if not m:
        return None
    return m.group("path").lstrip(".") or None


def _clean(message: str) -> str:
    message = _PATH.sub("", message).rstrip(" -")
    if _REGEX.search(message):
        words = next((w for p, w in _PATTERN_WORDS.items() if p in message), "the documented form")
        message = _REGEX.sub(f"Expected {words}.", message)
    return message or "Invalid value."


def nul_field(value: Any, path: str = "") -> str | None:
    """Where the first NUL character of a decoded value is, named like msgspec names
    fields (`name`, `keywords[1]`, `a.b`), or None. Postgres text cannot hold NUL, so a
    body carrying one in a field we keep is refused before anything is written."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            if "\x00" in key:
                return inner.replace("\x00", "\\u0000")
            found = nul_field(item, inner)
            if found is not None:
                return found
    return None


async def read_raw(request: Request) -> bytes:
    """The body, at most 1 MiB (413 beyond), read once and kept for later readers."""
    cached = getattr(request.state, "raw_body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "payload_too_large", "The body is larger than 1 MiB.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "payload_too_large", "The body is larger than 1 MiB.")
    request.state.raw_body = bytes(body)
    return request.state.raw_body


async def read_json(request: Request, struct: type[T]) -> T:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Encoding {encoding[:40]!r} is not accepted; send the body uncompressed.",
        )
    body = await read_raw(request)
    try:
        raw = msgspec.json.decode(bytes(body)) if body else None
    except msgspec.DecodeError:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return as_struct(raw, struct)


def as_struct(raw: dict[str, Any], struct: type[T]) -> T:
    """A decoded body as `struct`: 422 `validation_failed` naming the field at fault (the
    API's JSON bodies, and the dashboard's forms, which say the same words)."""
    try:
        parsed = msgspec.convert(raw, struct)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = _field_of(message)
        if "missing required field" in message:
            m = re.search(r"`([^`]+)`", message)
            name = m.group(1) if m else None
            field = f"{field}.{name}" if field and name else (name or field)
        raise ApiError(422, "validation_failed", _clean(message), field=field) from None
    # the fields kept (unknown ones are ignored, API.md), at the depth of the struct
    field = nul_field(msgspec.to_builtins(parsed))
    if field is not None:
        raise ApiError(
            422, "validation_failed", "Text must not contain NUL (U+0000) characters.", field=field
        )
    return parsed
