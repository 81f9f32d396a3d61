from botskis.core.errors import Forbidden, NotFound


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
