from __future__ import annotations

from botskis.core.errors import ValidationFailed


class InvalidRange(ValidationFailed):
    def __init__(self, field: str, message: str) -> None:
        super().__init__("The analytics range is not valid", [{"field": field, "message": message}])
