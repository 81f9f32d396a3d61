"""Settings: one validated object, read from the environment and `.env`.

The environment wins over `.env`. A bad value fails at start with one readable
line (see `settings_error_line`), never in the middle of traffic.
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "your-secret-key",
        "your-secret-key-here",
        "replace-me",
        "dev-secret-key",
    }
)
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.I,
)
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"  # noqa: S105


def data_dir() -> Path:
    """Where the embedded default keeps its data: $XDG_DATA_HOME/botskis, else
    ~/.local/share/botskis. An absolute place, so `botskis create-user` run from any
    directory finds the database that `botskis serve` uses."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "botskis"


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'botskis.db'}"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    environment: Literal["development", "production"] = "development"
    secret_key: str = DEV_SECRET_KEY

    database_url: str = Field(default_factory=default_database_url)
    database_pool_size: int = Field(default=20, ge=1, le=500)
    database_max_overflow: int = Field(default=10, ge=0, le=500)
    database_pool_recycle_seconds: int = Field(default=1800, ge=30)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    database_connect_timeout_seconds: int = Field(default=5, ge=1, le=300)
    redis_url: str | None = None
    events_channel: str = Field(default="botskis:events", min_length=1, max_length=200)

    ws_max_per_user: int = Field(default=10, ge=1, le=1000)
    ws_ping_interval: float = Field(default=20.0, gt=0, le=3600)
    ws_ping_timeout: float = Field(default=20.0, gt=0, le=3600)
    ws_send_queue: int = Field(default=256, ge=1, le=100_000)
    # Live events written straight to the socket (api/websocket_fast_path.py).
    ws_fast_path: bool = True

    # A login's access token for API clients, unless the login asks for a short one.
    access_token_expire_minutes: int = Field(default=7 * 24 * 60, ge=1, le=60 * 24 * 90)
    # The short-lived access tokens that come with refresh: the dashboard's cookie,
    # every token from POST /auth/refresh, a login with token_lifetime "short".
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: float = Field(default=30.0, gt=0, le=365)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)

    # Empty: no log files (with LOG_FORMAT=json, stdout only).
    log_dir: str = "logs"
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    web_dist_dir: str | None = None
    session_cookie_secure: bool | None = None
    browser_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_default: str = "120/minute"
    rate_limit_login: str = "10/minute"
    rate_limit_signup: str = "20/hour"
    rate_limit_user: str = "600/minute"
    rate_limit_prefix: str = Field(default="botskis", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_token: str | None = None
    hsts_enabled: bool | None = None
    x_xss_protection: str = "1; mode=block"
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"

    worker_embedded: bool = True
    worker_concurrency: int = Field(default=16, ge=1, le=1000)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    worker_lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    user_max_concurrent_runs: int = Field(default=10, ge=1, le=10000)
    agent_failure_threshold: int = Field(default=5, ge=1, le=1000)
    agent_probe_cooldown_seconds: float = Field(default=300.0, gt=0)
    agent_probe_max_cooldown_seconds: float = Field(default=21600.0, gt=0)
    webhook_rate_limit_per_minute: int = Field(default=60, ge=1, le=100000)
    run_retention_days: int = Field(default=90, ge=1, le=36500)
    run_retention_per_agent: int = Field(default=10_000, ge=1)
    run_retention_interval_seconds: float = Field(default=300.0, gt=0, le=86400)
    llm_price_per_million_tokens: float = Field(default=0.6, ge=0)

    http_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    http_max_response_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    foreach_max: int = Field(default=100, ge=1, le=10000)
    step_output_max_bytes: int = Field(default=64 * 1024, ge=1024)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_starttls: bool = True

    # Billing: without a secret key the billing endpoints answer 503 and plans stay
    # superuser-managed.
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_price_professional: str | None = None
    stripe_price_enterprise: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    billing_grace_days: int = Field(default=7, ge=0, le=90)
    billing_return_url: str = "http://localhost:8000/"

    credentials_key: str | None = None
    credentials_old_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    public_url: str = Field(
        default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/?#]+[^\s?#]*$"
    )
    email_verify_ttl_hours: float = Field(default=48.0, gt=0, le=24 * 90)
    password_reset_ttl_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    require_verified_email: bool | None = None
    rate_limit_account_mail: str = "5/hour"
    mail_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    mail_max_attempts: int = Field(default=8, ge=1, le=100)
    mail_retry_base_seconds: float = Field(default=30.0, gt=0, le=86400)
    mail_retry_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    mfa_token_minutes: float = Field(default=5.0, gt=0, le=60)
    mfa_lockout_threshold: int = Field(default=5, ge=1, le=1000)
    mfa_lockout_base_seconds: float = Field(default=30.0, gt=0, le=86400)
    mfa_lockout_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("browser_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        """Each entry is an origin as a browser sends it: scheme://host[:port]."""
        entries = _split_csv(value)
        if isinstance(entries, list):
            for entry in entries:
                if not ORIGIN.fullmatch(str(entry)):
                    raise ValueError(f"{entry!r} is not an origin like https://app.example.com")
            return [str(entry).lower() for entry in entries]
        return entries

    @field_validator("http_allowlist", mode="before")
    @classmethod
    def _parse_allowlist(cls, value: object) -> object:
        """Each entry is a host name or an IP address/CIDR; a typo fails at start."""
        entries = _split_csv(value)
        if not isinstance(entries, list):
            return entries
        for entry in entries:
            try:
                ipaddress.ip_network(str(entry).strip("[]"), strict=False)
            except ValueError:
                if not HOST_NAME.fullmatch(str(entry)):
                    raise ValueError(f"{entry!r} is neither a host name nor an IP/CIDR") from None
        return [str(entry).lower().strip("[]") for entry in entries]

    @field_validator("credentials_old_keys", mode="before")
    @classmethod
    def _parse_key_list(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _credential_keys_are_usable(self) -> Settings:
        from botskis.credentials.vault import parse_key

        if self.credentials_key:
            parse_key(self.credentials_key)
        for value in self.credentials_old_keys:
            parse_key(value)
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator(
        "rate_limit_default",
        "rate_limit_login",
        "rate_limit_signup",
        "rate_limit_user",
        "rate_limit_account_mail",
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        parse_many(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _production_needs_real_secret(self) -> Settings:
        if self.environment == "production":
            key = self.secret_key
            if key.strip().lower() in PLACEHOLDER_SECRETS or key == DEV_SECRET_KEY:
                raise ValueError("SECRET_KEY is missing or a placeholder; set a random value")
            if len(key.encode()) < 32:
                raise ValueError("SECRET_KEY must be at least 32 bytes in production")
            if not self.credentials_key:
                raise ValueError("CREDENTIALS_KEY is required in production (kid:base64 key)")
        return self

    @property
    def default_llm_configured(self) -> bool:
        """The operator's LLM (OPENAI_API_KEY or OPENAI_BASE_URL) serves users
        without an `openai` credential of their own."""
        return bool(self.openai_base_url or self.openai_api_key)

    @property
    def hsts(self) -> bool:
        """HSTS is on in production unless HSTS_ENABLED says otherwise."""
        return self.environment == "production" if self.hsts_enabled is None else self.hsts_enabled

    def secure_cookies(self, scheme: str) -> bool:
        """Cookies are Secure over https, in production (served behind TLS, like HSTS
        says) and whenever SESSION_COOKIE_SECURE=true."""
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return scheme in ("https", "wss") or self.environment == "production"

    @property
    def email_verification_required(self) -> bool:
        """Unverified accounts may not deploy or run agents; on in production unless
        REQUIRE_VERIFIED_EMAIL says otherwise."""
        if self.require_verified_email is None:
            return self.environment == "production"
        return self.require_verified_email

    @property
    def public_base_url(self) -> str:
        return self.public_url.rstrip("/")


def settings_error_line(error: ValidationError) -> str:
    """One readable line naming each bad setting, for start-up failures."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]).upper() or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if item["loc"] else message)
    return "invalid configuration: " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
