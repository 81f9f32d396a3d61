import base64
import os

import pytest
from pydantic import ValidationError

from botskis.config import Settings, settings_error_line
from botskis.credentials.kinds import CREDENTIAL_KINDS
from botskis.credentials.vault import UndecryptableSecret, Vault, parse_key


def new_key(kid: str) -> str:
    return kid + ":" + base64.urlsafe_b64encode(os.urandom(32)).decode()


def vault_with(current: str, *old: str) -> Vault:
    return Vault(parse_key(current), [parse_key(k) for k in old])


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    vault = vault_with(new_key("k1"))
    sealed = vault.encrypt({"api_key": "sk-very-secret-value"}, aad=b"owner:openai")
    assert sealed.key_id == "k1"
    assert b"very-secret" not in sealed.ciphertext
    assert vault.decrypt(sealed, aad=b"owner:openai") == {"api_key": "sk-very-secret-value"}


def test_rotation_reads_old_key_and_encrypts_with_new() -> None:
    old, new = new_key("2025"), new_key("2026")
    sealed = vault_with(old).encrypt({"token": "t"}, aad=b"a")
    rotated = vault_with(new, old)
    assert rotated.decrypt(sealed, aad=b"a") == {"token": "t"}
    assert rotated.encrypt({"token": "t"}, aad=b"a").key_id == "2026"


def test_missing_key_names_the_key_id() -> None:
    sealed = vault_with(new_key("gone")).encrypt({"token": "t"}, aad=b"a")
    with pytest.raises(UndecryptableSecret) as error:
        vault_with(new_key("other")).decrypt(sealed, aad=b"a")
    assert "'gone'" in str(error.value) and "not configured" in str(error.value)


def test_wrong_key_with_same_id_names_the_key_id() -> None:
    sealed = vault_with(new_key("k1")).encrypt({"token": "t"}, aad=b"a")
    with pytest.raises(UndecryptableSecret) as error:
        vault_with(new_key("k1")).decrypt(sealed, aad=b"a")
    assert error.value.key_id == "k1"


def test_ciphertext_is_bound_to_its_owner_and_kind() -> None:
    vault = vault_with(new_key("k1"))
    sealed = vault.encrypt({"token": "t"}, aad=b"alice:http_bearer")
    with pytest.raises(UndecryptableSecret):
        vault.decrypt(sealed, aad=b"mallory:http_bearer")


def test_development_key_is_derived_from_secret_key_and_stable() -> None:
    a = Vault.from_settings(Settings(_env_file=None, secret_key="s" * 40))  # type: ignore[call-arg]
    b = Vault.from_settings(Settings(_env_file=None, secret_key="s" * 40))  # type: ignore[call-arg]
    assert a.current_key_id.startswith("dev-")
    assert b.decrypt(a.encrypt({"x": 1}, aad=b""), aad=b"") == {"x": 1}


def test_production_refuses_to_start_without_credentials_key() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, environment="production", secret_key="k" * 40)  # type: ignore[call-arg]
    assert "CREDENTIALS_KEY" in settings_error_line(error.value)


@pytest.mark.parametrize(
    "value", ["nokid", ":" + "A" * 43, "k1:not base64!!", "k1:" + "A" * 10, "x" * 40 + ":AAAA"]
)
def test_malformed_credentials_key_fails_at_start(value: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, credentials_key=value)  # type: ignore[call-arg]
    assert "key" in settings_error_line(error.value)


def test_old_keys_are_read_as_a_list() -> None:
    first, second = new_key("a"), new_key("b")
    settings = Settings(_env_file=None, credentials_old_keys=f"{first}, {second}")  # type: ignore[call-arg]
    assert settings.credentials_old_keys == [first, second]


@pytest.mark.parametrize(
    ("kind", "secret", "headers", "params", "url"),
    [
        ("openai", {"api_key": "sk"}, {"Authorization": "Bearer sk"}, {}, None),
        ("http_bearer", {"token": "t"}, {"Authorization": "Bearer t"}, {}, None),
        (
            "http_basic",
            {"username": "u", "password": "p"},
            {"Authorization": "Basic dTpw"},
            {},
            None,
        ),
        ("http_header", {"header_name": "X-Key", "value": "v"}, {"X-Key": "v"}, {}, None),
        ("trello", {"api_key": "k", "token": "t"}, {}, {"key": "k", "token": "t"}, None),
        ("hubspot", {"access_token": "h"}, {"Authorization": "Bearer h"}, {}, None),
        (
            "shopify",
            {"shop_domain": "s.myshopify.com", "access_token": "a"},
            {"X-Shopify-Access-Token": "a"},
            {},
            None,
        ),
        ("stripe", {"secret_key": "sk_test"}, {"Authorization": "Bearer sk_test"}, {}, None),
        ("slack_webhook", {"webhook_url": "https://hooks/x"}, {}, {}, "https://hooks/x"),
        ("smtp", {"host": "h", "port": 25, "from_address": "a@b.c"}, {}, {}, None),
    ],
)
def test_each_kind_says_how_http_steps_authenticate(
    kind: str,
    secret: dict[str, object],
    headers: dict[str, str],
    params: dict[str, str],
    url: str | None,
) -> None:
    auth = CREDENTIAL_KINDS[kind].http_auth(secret)
    assert (auth.headers, auth.params, auth.url) == (headers, params, url)
    assert set(CREDENTIAL_KINDS[kind].required) <= set(secret)


def test_registry_keys_match_kind_names() -> None:
    assert all(name == kind.name for name, kind in CREDENTIAL_KINDS.items())
