"""Settings: the embedded default needs nothing; production fails closed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from oncolake.settings import SECRET_FIELDS, Settings, SettingsError, get_settings


def test_embedded_default_needs_no_settings(tmp_path: Path) -> None:
    s = get_settings()
    home = tmp_path / "oncolake-home"
    assert s.home_path == home.resolve()
    assert s.warehouse_uri == str(home.resolve() / "warehouse")
    assert s.catalog_uri == f"sqlite:///{home.resolve() / 'catalog.db'}"
    assert s.database_uri == f"sqlite:///{home.resolve() / 'oncolake.db'}"
    assert not s.is_production


def test_secrets_are_generated_once_with_mode_600_and_reused(tmp_path: Path) -> None:
    first = {name: get_settings().secret(name) for name in SECRET_FIELDS}
    path = tmp_path / "oncolake-home" / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(set(first.values())) == len(SECRET_FIELDS)
    assert all(len(v) >= 32 for v in first.values())
    again = {name: get_settings().secret(name) for name in SECRET_FIELDS}
    assert again == first
    assert set(json.loads(path.read_text())) == set(SECRET_FIELDS)


def test_environment_secret_wins_over_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOLAKE_SECRET_KEY", "a-very-long-secret-from-the-environment")
    assert get_settings().secret("secret_key") == b"a-very-long-secret-from-the-environment"


@pytest.mark.parametrize(
    "env",
    [
        {"ONCOLAKE_WAREHOUSE": "s3://bucket/lake"},
        {"ONCOLAKE_DATABASE_URL": "postgresql+psycopg://u@db/oncolake"},
        {"ONCOLAKE_CATALOG_URL": "postgresql+psycopg://u@db/catalog"},
    ],
)
def test_production_refuses_missing_secrets_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError, match="ONCOLAKE_SECRET_KEY is missing or a default value"):
        get_settings()


def test_production_refuses_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOLAKE_WAREHOUSE", "s3://bucket/lake")
    monkeypatch.setenv("ONCOLAKE_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("ONCOLAKE_TAG_SIGNING_KEY", "changeme")
    monkeypatch.setenv("ONCOLAKE_PSEUDONYM_KEY", "y" * 40)
    with pytest.raises(SettingsError, match="ONCOLAKE_TAG_SIGNING_KEY is missing or a default"):
        get_settings()


def test_production_with_every_secret_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOLAKE_WAREHOUSE", "s3://bucket/lake/")
    monkeypatch.setenv("ONCOLAKE_S3_ENDPOINT", "http://127.0.0.1:9000")
    for name in SECRET_FIELDS:
        monkeypatch.setenv(f"ONCOLAKE_{name.upper()}", f"{name}-" + "z" * 40)
    s = get_settings()
    assert s.is_production
    cfg = s.lake_config()
    assert cfg.warehouse == "s3://bucket/lake"
    assert cfg.properties["s3.endpoint"] == "http://127.0.0.1:9000"
    assert s.secret("pseudonym_key").startswith(b"pseudonym_key-")


def test_unknown_secret_name_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown secret"):
        Settings().secret("nope")


def test_corrupt_secrets_file_says_how_to_fix(tmp_path: Path) -> None:
    home = tmp_path / "oncolake-home"
    home.mkdir()
    (home / "secrets.json").write_text("{not json")
    with pytest.raises(SettingsError, match="delete it to generate new keys"):
        get_settings().secret("secret_key")


def test_catalogue_settings_reach_the_api_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from oncolake.api_config import api_config

    monkeypatch.setenv("ONCOLAKE_DISCLOSURE_THRESHOLD", "10")
    monkeypatch.setenv("ONCOLAKE_CENTRE_QUORUMS", "C1=2, C2=1")
    monkeypatch.setenv("ONCOLAKE_VISA_GRANTS", '{"urn:dac:c1": "C1"}')
    cfg = api_config()
    assert cfg.disclosure_threshold == 10
    assert cfg.extra["quorum:C1"] == "2" and cfg.extra["quorum:C2"] == "1"
    assert cfg.extra["visa_grants"] == '{"urn:dac:c1": "C1"}'


def test_bad_centre_quorum_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from oncolake.api_config import api_config

    monkeypatch.setenv("ONCOLAKE_CENTRE_QUORUMS", "C1=two")
    with pytest.raises(SettingsError, match="ONCOLAKE_CENTRE_QUORUMS: 'C1=two'"):
        api_config()
