"""The published Mirakl seller API as a validator for httpx requests and responses.

The file is the marketplace's own OpenAPI 3.1 document; it does not pass a strict spec check
(one dynamic URL has an unresolved path parameter), so that check is off and only the
operations are used.
"""

from __future__ import annotations

import functools
import json
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

# A copy of Mirakl's published seller API (MMP, OpenAPI 3.1), kept with the tests so that they
# run wherever the repository is cloned.
SPEC_PATH = Path(__file__).resolve().parent / "mirakl-mmp-seller-openapi.json"
# The spec's server; the sandbox's own host is swapped for it before matching paths.
SPEC_SERVER = "https://your-instance.mirakl.net"


def _text(value: bytes | str, **_: str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", errors="surrogateescape")


def _form_data(value: bytes, **parameters: str) -> ImmutableMultiDict[str, Any]:
    """multipart/form-data fields as text, files included (OF01 sends its CSV as a file).

    openapi-core's own reader hands files over as bytes, which a 3.1 `type: string` schema
    refuses; text keeps the file checkable as the string the spec declares.
    """
    head = f'Content-Type: multipart/form-data; boundary="{parameters.get("boundary", "")}"'
    message = BytesParser(policy=policy.HTTP).parsebytes(head.encode() + b"\r\n\r\n" + value)
    return ImmutableMultiDict([
        (part.get_param("name", header="content-disposition"),
         _text(part.get_payload(decode=True)))
        for part in message.iter_parts()
    ])


# Fields the spec describes as "Null before shipping (or acceptance, depending on platform
# setting)" while typing them as objects or strings only: the description is what the
# marketplace does, so null is accepted there.
NULL_UNTIL_SHOWN = "Null before shipping"


def _null_where_described(node: Any) -> None:
    """Make every property described as null before shipping accept null (in place)."""
    if isinstance(node, list):
        for item in node:
            _null_where_described(item)
        return
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        if isinstance(prop, dict) and NULL_UNTIL_SHOWN in (prop.get("description") or ""):
            node["properties"][name] = {
                "description": prop["description"],
                "anyOf": [{k: v for k, v in prop.items() if k != "description"}, {"type": "null"}],
            }
    for value in node.values():
        _null_where_described(value)


@functools.cache
def mirakl_api() -> OpenAPI:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    _null_where_described(spec)
    return OpenAPI.from_dict(spec, config=Config(
        spec_validator_cls=None,
        extra_media_type_deserializers={
            "multipart/form-data": _form_data,
            # A file (OF03's answer, OF01's part) is checked as the `type: string` it is declared.
            "application/octet-stream": _text,
        },
        # `format: binary` on a `type: string` file: any content is a valid file.
        extra_format_validators={"binary": lambda value: isinstance(value, str | bytes)},
    ))


def _mock_request(request: httpx.Request) -> MockRequest:
    parts = urlsplit(str(request.url))
    body = request.read() or None  # a multipart upload is a stream until read
    content_type = request.headers.get("content-type", "application/json")
    if not content_type.startswith("multipart/"):  # multipart needs its boundary parameter
        content_type = content_type.split(";")[0]
    return MockRequest(
        SPEC_SERVER,
        request.method.lower(),
        parts.path,
        args=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=dict(request.headers),
        data=body,
        content_type=content_type,
    )


class ContractError(AssertionError):
    """A request or response that the published spec does not allow; lists each broken rule."""


def _schema_errors(exc: BaseException) -> list[str]:
    found: list[str] = []
    cause: BaseException | None = exc
    while cause is not None:
        for error in getattr(cause, "schema_errors", None) or []:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            found.append(f"{where}: {error.message[:200]}")
        cause = cause.__cause__
    return found


def _raise_contract_error(what: str, exc: Exception) -> None:
    details = _schema_errors(exc) or [f"{type(exc).__name__}: {str(exc)[:300]}"]
    raise ContractError(f"{what} breaks the Mirakl spec:\n  " + "\n  ".join(details)) from None


def validate_request(request: httpx.Request) -> None:
    """Raise ContractError if the request breaks the operation (path, parameters, body, auth)."""
    try:
        mirakl_api().validate_request(_mock_request(request))
    except Exception as exc:  # openapi-core raises several unrelated types
        _raise_contract_error(f"{request.method} {request.url.path}", exc)


def validate_response(response: httpx.Response) -> None:
    """Raise ContractError if the response's status and body break the published operation."""
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    mock = MockResponse(
        response.content or b"",
        status_code=response.status_code,
        content_type=content_type if response.content else None,
        headers=dict(response.headers),
    )
    try:
        mirakl_api().validate_response(_mock_request(response.request), mock)
    except Exception as exc:  # openapi-core raises several unrelated types
        _raise_contract_error(
            f"response {response.status_code} to {response.request.method} "
            f"{response.request.url.path}",
            exc,
        )
