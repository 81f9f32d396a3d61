from pathlib import Path

import pytest
from pydantic import ValidationError

from botskis.config import Settings, settings_error_line


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    home_db = Path.home() / ".local" / "share" / "botskis" / "botskis.db"
    assert settings.database_url == f"sqlite+aiosqlite:///{home_db}"
    assert settings.database_pool_size == 20
    assert settings.access_token_expire_minutes == 7 * 24 * 60
    assert settings.bcrypt_rounds == 12
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.redis_url is None


def test_default_database_follows_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'botskis' / 'botskis.db'}"


@pytest.mark.parametrize(
    "secret", ["", "changeme", "x" * 31, "dev-insecure-secret-key-do-not-use-in-production"]
)
def test_production_rejects_weak_secret(secret: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, environment="production", secret_key=secret)  # type: ignore[call-arg]
    assert "SECRET_KEY" in settings_error_line(error.value)


def test_production_accepts_long_random_secret() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        secret_key="k" * 40,
        credentials_key="k1:" + "A" * 43,
    )
    assert settings.environment == "production"


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "PORT=9001\nLOG_LEVEL=debug\nCORS_ORIGINS=https://a.example, https://b.example\n"
    )
    monkeypatch.setenv("PORT", "9002")
    settings = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert settings.port == 9002
    assert settings.log_level == "DEBUG"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_every_setting_is_documented_in_env_example() -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in example.read_text().splitlines()
        if "=" in line and not line.startswith("# ")
    }
    assert names == {name.upper() for name in Settings.model_fields}
