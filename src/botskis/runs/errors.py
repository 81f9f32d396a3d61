from botskis.core.errors import AppError, Conflict, NotFound


class RunNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Run not found")


class AgentPaused(Conflict):
    def __init__(self) -> None:
        super().__init__("The agent is paused; resume it before running it")


class RunNotCancellable(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"The run already finished ({status}) and cannot be cancelled")


class RunNotRetryable(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"Only failed or cancelled runs can be retried; this one is {status}")


class WebhookNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Unknown webhook")


class WebhookRateLimited(AppError):
    status = 429

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This agent accepts at most {limit} webhook deliveries per minute",
            headers={"Retry-After": "60"},
        )


class TemplateUnavailable(AppError):
    status = 409

    def __init__(self, slug: str) -> None:
        super().__init__(f"The agent's template {slug!r} is no longer available")
