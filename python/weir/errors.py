"""The one error type the pipeline raises. It knows no HTTP framework and no dialect: each dialect renders it."""

from __future__ import annotations


class ClientGone(Exception):
    """The client went away while its request was being read (not an error to render: nobody is listening)."""


class GatewayError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None
    retry_after: int | None = None  # whole seconds: sent as Retry-After (and retry-after-ms) by every dialect
    # Whether the SDKs should retry by themselves (x-should-retry); None leaves it to the dialect's own rule.
    should_retry: bool | None = None

    def __init__(
        self, message: str, *, param: str | None = None, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after

    # Headers of the call the error ends, sent with it whatever the dialect (the key's rate-limit headers)
    added: list[tuple[bytes, bytes]] = []

    def add_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        if headers:
            self.added = [*self.added, *headers]

    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers every dialect sends with this error besides its own (Retry-After, the call's added headers)."""
        if self.retry_after is None:
            return self.added
        seconds = max(1, self.retry_after)
        return [*self.added, (b"retry-after", b"%d" % seconds), (b"retry-after-ms", b"%d" % (seconds * 1000))]


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class KeyExpired(Unauthorized):
    code = "key_expired"


class InsufficientBalance(GatewayError):
    status = 402
    type = "billing_error"
    code = "insufficient_balance"


class MaxPriceExceeded(InsufficientBalance):
    """The call may cost more than its cap (X-Weir-Max-Price-Microcents, or its key's max_price)."""

    code = "max_price_exceeded"


class KeySpendLimitReached(InsufficientBalance):
    """The key has spent its spend limit for its period (weir keys update --spend-limit-usd)."""

    code = "key_spend_limit_reached"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class IpNotAllowed(PermissionDenied):
    """The client's address is outside the key's IP allow-list."""

    code = "ip_not_allowed"


class ModelNotAllowed(PermissionDenied):
    """The model is outside what the key's tier (or its own model list) allows."""

    code = "model_not_allowed"


class ModelDisabled(PermissionDenied):
    """The operator disabled the model (`weir models disable`, or enabled = false in the configuration)."""

    code = "model_disabled"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PreviousResponseNotFound(NotFound):
    """`previous_response_id` names no response this account may continue (unknown, expired, or not its own)."""

    code = "previous_response_not_found"

    def __init__(self, response_id: str) -> None:
        super().__init__(f"Previous response with id '{response_id}' not found.", param="previous_response_id")


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RequestTimeout(GatewayError):
    """The client took longer than `server.body_read_timeout_seconds` to send its request body."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The request body did not arrive within {seconds:g} seconds (server.body_read_timeout_seconds)."
        )


class UnsupportedMediaType(GatewayError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimited(GatewayError):
    """A bound of the gateway's own was reached (429: token counting's per-key rate); `retry_after` says when it
    resets, within a minute, so SDKs may retry."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    should_retry = True


class LimitRefusal(GatewayError):
    """A limit of the key refused the call (weir/limits/). It carries every limit header of the refusal, rendered
    for the caller's dialect, Retry-After included."""

    def __init__(self, message: str, *, retry_after: int, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = headers

    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        return self.headers


# The longest wait worth an SDK's own retry: longer ones (an hour's or a day's window) go back to the caller at once.
RETRY_WITHIN_SECONDS = 60


class RateLimitExceeded(LimitRefusal):
    """A request or token window of the key is spent (429): OpenAI `rate_limit_exceeded` (its type says
    "requests" or "tokens", as OpenAI's own do), Anthropic `rate_limit_error`, Gemini `RESOURCE_EXHAUSTED`."""

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, headers: list[tuple[bytes, bytes]], limit: str) -> None:
        super().__init__(message, retry_after=retry_after, headers=headers)
        self.limit = limit  # the window that refused: "requests_per_hour"...
        if limit.startswith("tokens"):
            self.type = "tokens"
        self.should_retry = retry_after <= RETRY_WITHIN_SECONDS


class TooManyConcurrent(LimitRefusal):
    """The key has max_concurrent calls in flight (429)."""

    status = 429
    type = "requests"
    code = "too_many_concurrent"
    should_retry = True


class IpLimitReached(LimitRefusal):
    """A new client IP for a key that has been used from max_ips addresses today (403)."""

    status = 403
    type = "permission_error"
    code = "ip_limit_reached"


class ProviderPaused(GatewayError):
    """Every route of the model leads to a provider the operator paused."""

    status = 429
    type = "rate_limit_error"
    code = "provider_paused"


class NoChannelAvailable(GatewayError):
    """No route of the model can serve now: paused, breaker open, or no usable provider key."""

    status = 503
    type = "server_error"
    code = "no_channel_available"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "server_error"
    code = "service_unavailable"


class LimitsUnavailable(ServiceUnavailable):
    """The limits' backend (Redis) cannot answer and limits.on_backend_error is "closed" (503)."""

    retry_after = 1

    def __init__(self) -> None:
        super().__init__(
            "Rate limits cannot be checked right now (their store does not answer), so the call was not made. "
            "Please try again in a few seconds."
        )


class UpstreamUnreachable(GatewayError):
    status = 502
    type = "upstream_error"
    code = "upstream_unreachable"


class UpstreamAuthFailed(GatewayError):
    """The provider refused Weir's own key for it (401/403): the client's key is fine, the operator must act."""

    status = 502
    type = "upstream_error"
    code = "upstream_auth_failed"


class UpstreamInvalidResponse(GatewayError):
    """The upstream answered success with a body that is not what its API returns (not JSON, say)."""

    status = 502
    type = "upstream_error"
    code = "upstream_invalid_response"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


class UpstreamStreamError(GatewayError):
    """The upstream failed after the response had started (a mid-stream error)."""

    status = 502
    type = "upstream_error"
    code = "upstream_stream_error"
