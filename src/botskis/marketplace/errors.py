from __future__ import annotations

from botskis.core.errors import NotFound


class TemplateNotFound(NotFound):
    title = "Template not found"

    def __init__(self, id_or_slug: str) -> None:
        super().__init__(f"No template has the id or slug {id_or_slug!r}")
