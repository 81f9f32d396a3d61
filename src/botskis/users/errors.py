from botskis.core.errors import AppError, Conflict, Forbidden, Unauthorized


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
