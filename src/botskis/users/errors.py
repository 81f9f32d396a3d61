from botskis.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from botskis.users.scopes import Scope


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


class AccountTokenInvalid(AppError):
    status = 400

    def __init__(self, detail: str = "This link is not valid; ask for a new one") -> None:
        super().__init__(detail, reason="token_invalid")


class AccountTokenUsed(AppError):
    status = 400

    def __init__(self) -> None:
        super().__init__("This link has already been used; ask for a new one", reason="token_used")


class AccountTokenExpired(AppError):
    status = 400

    def __init__(self) -> None:
        super().__init__("This link has expired; ask for a new one", reason="token_expired")


class EmailAlreadyVerified(Conflict):
    def __init__(self) -> None:
        super().__init__("This email address is already verified")


class EmailNotVerified(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "Verify your email address before deploying or running agents: open the link "
            "we sent, or ask for a new one with POST /api/v1/auth/verify-email/resend",
            reason="email_not_verified",
        )


class TwoFactorAlreadyEnabled(Conflict):
    def __init__(self) -> None:
        super().__init__("Two-factor authentication is already on; turn it off first")


class TwoFactorNotStarted(Conflict):
    def __init__(self) -> None:
        super().__init__("Start with POST /api/v1/users/me/2fa/setup")


class TwoFactorNotEnabled(Conflict):
    def __init__(self) -> None:
        super().__init__("Two-factor authentication is not on")


class InvalidCode(AppError):
    status = 400

    def __init__(self) -> None:
        super().__init__("The code is not valid", reason="code_invalid")


class CodeRequired(AppError):
    status = 400

    def __init__(self) -> None:
        super().__init__(
            "Two-factor authentication is on: send the current code or a recovery code",
            reason="code_required",
        )


class MfaTokenInvalid(Unauthorized):
    def __init__(self) -> None:
        super().__init__(
            "The mfa_token is invalid, expired or already used: log in again",
            reason="mfa_token_invalid",
        )


class MissingScope(Forbidden):
    def __init__(self, scope: Scope) -> None:
        super().__init__(
            f"This API key lacks the {scope} scope", reason="missing_scope", scope=str(scope)
        )


class ApiKeyRefused(Forbidden):
    """Account management (profile, password, 2FA, sessions, keys, billing) needs a
    login: a leaked key must not be able to lock its owner out."""

    def __init__(self) -> None:
        super().__init__(
            "API keys cannot manage the account: log in with the password instead",
            reason="api_key_not_allowed",
        )


class ApiKeyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("API key not found")


class TooManyApiKeys(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"An account holds at most {limit} API keys: revoke one before creating another",
            reason="api_key_limit",
            limit=limit,
        )
