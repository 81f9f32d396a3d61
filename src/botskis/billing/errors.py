from botskis.core.errors import AppError, Conflict, Forbidden, NotFound


class AgentQuotaExceeded(Forbidden):
    title = "Agent limit reached"

    def __init__(self, plan: str, limit: int) -> None:
        super().__init__(
            f"The {plan} plan allows {limit} agents; delete one or upgrade the plan",
            plan=plan,
            limit=limit,
        )


class RunQuotaExceeded(Forbidden):
    title = "Monthly run limit reached"

    def __init__(self, plan: str, limit: int) -> None:
        super().__init__(
            f"The {plan} plan allows {limit} runs a month; this month's are used up",
            plan=plan,
            limit=limit,
        )


class UserNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("User not found")


class BillingNotConfigured(AppError):
    status = 503
    title = "Billing is not configured"

    def __init__(
        self, detail: str = "billing is not configured; an administrator manages plans"
    ) -> None:
        super().__init__(detail)


class AlreadySubscribed(Conflict):
    title = "Already subscribed"

    def __init__(self) -> None:
        super().__init__("Change or cancel the subscription in the billing portal")


class NoBillingAccount(Conflict):
    title = "No billing account"

    def __init__(self) -> None:
        super().__init__("Subscribe to a plan first; the portal manages an existing subscription")


class PaymentProviderUnavailable(AppError):
    status = 502
    title = "Payment provider unavailable"

    def __init__(self) -> None:
        super().__init__("Stripe did not answer as expected; try again shortly")


class InvalidWebhookSignature(AppError):
    status = 400
    title = "Invalid signature"

    def __init__(self) -> None:
        super().__init__("The Stripe-Signature header does not verify against this body")
