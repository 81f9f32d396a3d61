from botskis.core.errors import Conflict


class QuestionsUnanswered(Conflict):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "Answer these questions first: " + ", ".join(missing), missing_questions=missing
        )
