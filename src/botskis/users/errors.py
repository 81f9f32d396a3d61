from botskis.core.errors import AppError, Conflict, Forbidden, Unauthorized, ValidationFailed


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists")


class InvalidCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class InactiveUser(Forbidden):
    def __init__(self) -> None:
        super().__init__("This account is disabled")


class WrongPassword(AppError):
    status = 400

    def __init__(self) -> None:
        super().__init__("The current password is incorrect")


class SuperuserRequired(Forbidden):
    def __init__(self) -> None:
        super().__init__("This action requires an administrator")


class PasswordMismatch(AppError):
    """A confirmation password that is not the account's: a 400 naming the field, not
    a 401, which would read as an expired session."""

    status = 400

    def __init__(self) -> None:
        super().__init__(
            "The password is incorrect",
            errors=[{"field": "password", "message": "The password is incorrect"}],
        )


class PasswordConfirmationRequired(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "Confirm with the account's password",
            errors=[{"field": "password", "message": "Field required"}],
        )
