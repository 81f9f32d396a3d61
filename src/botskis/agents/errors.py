from botskis.core.errors import Conflict, NotFound


class AgentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Agent not found")


class TemplateNotFound(NotFound):
    def __init__(self, template_id: str) -> None:
        super().__init__(f"No template with id or slug '{template_id}'")


class AgentStateConflict(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"The agent is already {status}", agent_status=status)


class NotAWebhookAgent(Conflict):
    def __init__(self) -> None:
        super().__init__("The agent's trigger is not a webhook; there is no token to rotate")
