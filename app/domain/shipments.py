"""The parcel of a shipped order: carrier, tracking number and the page to follow it on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from app.domain.carriers import tracking_url_for
from app.domain.errors import RuleViolation

MAX_TRACKING_NUMBER_LENGTH = 32
_NO_SPACE = re.compile(r"^\S+$")


@dataclass
class Shipment:
    carrier: str
    tracking_number: str
    tracking_url: str
    shipped_at: datetime


@dataclass(frozen=True)
class Tracking:
    carrier: str
    tracking_number: str
    tracking_url: str


def checked_tracking(tracking_number: str, carrier: str, tracking_url: str | None) -> Tracking:
    """The tracking the merchant gives, trimmed; a known carrier's URL is built when none is given."""
    tracking_number = tracking_number.strip()
    carrier = carrier.strip()
    if not tracking_number:
        raise RuleViolation("tracking_number", "required", "tracking_number is required")
    if len(tracking_number) > MAX_TRACKING_NUMBER_LENGTH:
        raise RuleViolation(
            "tracking_number",
            "max_length",
            f"tracking_number has {len(tracking_number)} characters; "
            f"at most {MAX_TRACKING_NUMBER_LENGTH} are allowed",
        )
    if not _NO_SPACE.match(tracking_number):
        raise RuleViolation(
            "tracking_number", "no_whitespace", "tracking_number must not contain spaces"
        )
    if not carrier:
        raise RuleViolation("carrier", "required", "carrier is required")
    if tracking_url:
        url = tracking_url.strip()
        if not url.startswith(("http://", "https://")) or not _NO_SPACE.match(url):
            raise RuleViolation(
                "tracking_url",
                "http_url",
                "tracking_url must start with http:// or https:// and contain no spaces",
            )
    else:
        generated = tracking_url_for(carrier, tracking_number)
        if generated is None:
            raise RuleViolation(
                "tracking_url",
                "required_for_unknown_carrier",
                f"carrier {carrier!r} is not one we can build a tracking URL for; "
                "give tracking_url",
            )
        url = generated
    return Tracking(carrier=carrier, tracking_number=tracking_number, tracking_url=url)


__all__ = ["MAX_TRACKING_NUMBER_LENGTH", "Shipment", "Tracking", "checked_tracking"]
