from botskis.core.errors import AppError, Conflict, NotFound


class CredentialNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Credential not found")


class CredentialNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"A credential named '{name}' already exists")


class CredentialUndecryptable(AppError):
    """The server cannot read a stored secret: a key configuration problem, not the client's."""

    status = 500
    title = "Credential cannot be decrypted"

    def __init__(self, name: str, key_id: str, reason: str) -> None:
        super().__init__(
            f"Credential '{name}' is encrypted with key '{key_id}', which {reason}",
            key_id=key_id,
        )
