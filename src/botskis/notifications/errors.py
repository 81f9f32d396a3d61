from botskis.core.errors import NotFound


class NotificationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Notification not found")
