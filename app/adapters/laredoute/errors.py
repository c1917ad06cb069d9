"""What can go wrong when we talk to the marketplace, kept apart by what the caller can do about it.

    MiraklError
    ├── UpstreamUnavailable   no usable answer: network error, timeout, 429 after retries, 5xx.
    │                         Try again later; for a write, `maybe_applied` says whether the
    │                         marketplace may have applied it anyway (then read before retrying).
    └── UpstreamRefused       the marketplace answered 4xx (not 429): the request itself is wrong,
                              or the order is not in a state that allows it. Retrying will not help.

Messages name the operation (OR21, OR11...) and never contain the API key: the client scrubs
anything it copies from a response before it reaches these exceptions.
"""

from __future__ import annotations


class MiraklError(Exception):
    """Base of every error the marketplace client raises on purpose."""

    operation: str


class UpstreamUnavailable(MiraklError):
    """The marketplace could not be reached or gave no usable answer."""

    def __init__(
        self,
        operation: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ) -> None:
        self.operation = operation
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied
        applied = "; the change may have been applied" if maybe_applied else ""
        super().__init__(f"{operation}: marketplace unavailable ({reason}){applied}")

    def __repr__(self) -> str:
        return (
            f"UpstreamUnavailable(operation={self.operation!r}, reason={self.reason!r}, "
            f"status={self.status!r}, retry_after={self.retry_after!r}, "
            f"maybe_applied={self.maybe_applied!r})"
        )


class UpstreamRefused(MiraklError):
    """The marketplace understood the request and said no (HTTP 4xx other than 429)."""

    def __init__(self, operation: str, status: int, code: str | None, message: str) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        label = f"HTTP {status}" + (f" {code}" if code else "")
        super().__init__(f"{operation} refused ({label}): {message}")

    def __repr__(self) -> str:
        return (
            f"UpstreamRefused(operation={self.operation!r}, status={self.status!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )


__all__ = ["MiraklError", "UpstreamRefused", "UpstreamUnavailable"]
