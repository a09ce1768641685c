"""oncolake's settings: one pydantic-settings class, environment prefix ``ONCOLAKE_``.

The embedded default needs no settings at all: everything lives under ``ONCOLAKE_HOME``
(default ``./.oncolake``) and the secret keys are generated once into
``$HOME/secrets.json`` (file mode 600) and reused.

In production (an ``s3://`` warehouse, or a PostgreSQL catalog or application database)
the settings fail closed: a secret that is missing or still a known default refuses to
start, naming the variable to set.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from harmonise.lake import LakeConfig

#: Secret values that are never acceptable outside the embedded default.
KNOWN_DEFAULT_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "default"})

#: The secret keys, with the environment variable that sets each and what it protects.
SECRET_FIELDS: dict[str, str] = {
    "secret_key": "signs web sessions and CSRF tokens",
    "tag_signing_key": "signs the mandatory metadata and consent tags in every data file",
    "pseudonym_key": "keys the HMAC pseudonyms a centre makes of patient identifiers",
    "audit_key": "keys the audit log's HMAC chain and its anchors (kept out of the database)",
}

SECRETS_FILE = "secrets.json"
#: The home's identity, written when the home is made: where it was made, and an id.
HOME_FILE = "home.json"


class SettingsError(ValueError):
    """The settings cannot be used (for example a production secret is missing)."""


class HomeMovedError(SettingsError):
    """The home was copied or moved: its catalog and database name files of the original."""


class Settings(BaseSettings):
    """Every setting of oncolake; each can be set as ``ONCOLAKE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ONCOLAKE_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path("./.oncolake"),
        description="Folder of the embedded default: warehouse, catalog, app database, keys.",
    )
    warehouse: str | None = Field(
        default=None,
        description="Where the lake's files live: a local folder (default $HOME/warehouse) "
        "or s3://bucket/prefix.",
    )
    catalog_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the Iceberg SQL catalog (default SQLite under $HOME; "
        "postgresql+psycopg://… in production).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the application database (default SQLite under $HOME).",
    )
    s3_endpoint: str | None = Field(default=None, description="S3 endpoint URL (e.g. MinIO).")
    s3_access_key_id: str | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")
    s3_region: str = Field(default="us-east-1", description="S3 region.")

    # -- the catalogue ---------------------------------------------------------------
    disclosure_threshold: int = Field(
        default=5,
        ge=0,
        description="Counts below this are never shown as numbers.",
    )
    disclosure_rounding: int = Field(
        default=5, ge=1, description="Counts at or above the threshold are rounded to this."
    )
    query_budget: int = Field(default=200, ge=1, description="Count queries per user per window.")
    query_window_seconds: int = Field(default=3600, ge=1, description="The budget's window.")
    disclosure_history_days: float = Field(
        default=365.0, gt=0, description="Days the differencing check remembers each answer."
    )
    quorum: int = Field(default=1, ge=1, description="Approvals needed per centre.")
    centre_quorums: str = Field(
        default="", description="Per-centre quorums overriding QUORUM, e.g. 'C1=2,C2=1'."
    )
    oidc_issuer: str = Field(default="", description="OpenID Connect issuer (empty: no OIDC).")
    oidc_audience: str = Field(default="", description="Audience expected in OIDC tokens.")
    oidc_jwks_url: str = Field(default="", description="JWKS URL of the OIDC issuer.")
    visa_issuers: str = Field(
        default="", description="GA4GH visa issuers as JSON: issuer → JWKS URL."
    )
    visa_grants: str = Field(
        default="", description="ControlledAccessGrants visa values as JSON: value → centre id."
    )
    download_link_seconds: int | None = Field(
        default=None, ge=1, description="Lifetime of export download links."
    )

    secret_key: SecretStr | None = Field(default=None, description=SECRET_FIELDS["secret_key"])
    tag_signing_key: SecretStr | None = Field(
        default=None, description=SECRET_FIELDS["tag_signing_key"]
    )
    pseudonym_key: SecretStr | None = Field(
        default=None, description=SECRET_FIELDS["pseudonym_key"]
    )
    audit_key: SecretStr | None = Field(default=None, description=SECRET_FIELDS["audit_key"])

    @model_validator(mode="after")
    def _fail_closed_in_production(self) -> Settings:
        if not self.is_production:
            return self
        for name in SECRET_FIELDS:
            value: SecretStr | None = getattr(self, name)
            if value is None or value.get_secret_value().strip().lower() in KNOWN_DEFAULT_SECRETS:
                raise SettingsError(
                    f"ONCOLAKE_{name.upper()} is missing or a default value, and this is a "
                    f"production setup ({self._production_reason}). Set ONCOLAKE_{name.upper()} "
                    f"to a long random value (it {SECRET_FIELDS[name]}); for example: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        return self

    # -- derived values ----------------------------------------------------------------

    @property
    def _production_reason(self) -> str:
        if self.warehouse_uri.startswith("s3://"):
            return f"the warehouse is {self.warehouse_uri}"
        return "a PostgreSQL database is configured"

    @property
    def is_production(self) -> bool:
        """True with an S3 warehouse or a PostgreSQL URL: secrets must then be given."""
        urls = [self.catalog_url or "", self.database_url or ""]
        return self.warehouse_uri.startswith("s3://") or any(
            u.startswith("postgresql") for u in urls
        )

    @property
    def home_path(self) -> Path:
        """The absolute home folder (created on first use)."""
        return self.home.expanduser().resolve()

    @property
    def warehouse_uri(self) -> str:
        """The warehouse as a URI: ``s3://…`` or an absolute local path."""
        if self.warehouse:
            if "://" in self.warehouse:
                return self.warehouse.rstrip("/")
            return str(Path(self.warehouse).expanduser().resolve())
        return str(self.home_path / "warehouse")

    @property
    def catalog_uri(self) -> str:
        """SQLAlchemy URL of the Iceberg catalog."""
        return self.catalog_url or f"sqlite:///{self.home_path / 'catalog.db'}"

    @property
    def database_uri(self) -> str:
        """SQLAlchemy URL of the application database."""
        return self.database_url or f"sqlite:///{self.home_path / 'oncolake.db'}"

    def ensure_home(self) -> Path:
        """Create the home folder (and a local warehouse folder) if they are missing, and
        check that it is the home it says it is (:func:`check_home_identity`)."""
        home = self.home_path
        home.mkdir(parents=True, exist_ok=True)
        check_home_identity(home)
        if "://" not in self.warehouse_uri:
            Path(self.warehouse_uri).mkdir(parents=True, exist_ok=True)
        return home

    @cached_property
    def _embedded_secrets(self) -> dict[str, str]:
        return _load_or_create_secrets(self.ensure_home() / SECRETS_FILE)

    def secret(self, name: str) -> bytes:
        """The secret ``name`` (one of ``SECRET_FIELDS``) as bytes.

        Given in the environment it is used as is; otherwise (embedded default only, since
        production refuses to start without it) it is read from, or generated once into,
        ``$HOME/secrets.json``.
        """
        if name not in SECRET_FIELDS:
            raise KeyError(f"unknown secret {name!r}; known: {', '.join(SECRET_FIELDS)}")
        value: SecretStr | None = getattr(self, name)
        if value is not None:
            return value.get_secret_value().encode()
        return self._embedded_secrets[name].encode()

    def s3_storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options for ``s3://`` inboxes (the same object store as the lake)."""
        opts: dict[str, Any] = {"client_kwargs": {"region_name": self.s3_region}}
        if self.s3_endpoint:
            opts["client_kwargs"]["endpoint_url"] = self.s3_endpoint
        if self.s3_access_key_id and self.s3_secret_access_key:
            opts["key"] = self.s3_access_key_id
            opts["secret"] = self.s3_secret_access_key.get_secret_value()
        return opts

    def lake_config(self) -> LakeConfig:
        """The lake layer's configuration (harmonise does not read settings itself)."""
        props: dict[str, Any] = {}
        if self.warehouse_uri.startswith("s3://"):
            props = {
                "s3.region": self.s3_region,
            }
            if self.s3_endpoint:
                props["s3.endpoint"] = self.s3_endpoint
            if self.s3_access_key_id:
                props["s3.access-key-id"] = self.s3_access_key_id
            if self.s3_secret_access_key:
                props["s3.secret-access-key"] = self.s3_secret_access_key.get_secret_value()
        else:
            self.ensure_home()
        if self.catalog_uri.startswith("sqlite"):
            self.ensure_home()
        return LakeConfig(
            catalog_uri=self.catalog_uri,
            warehouse=self.warehouse_uri,
            properties=props,
        )


def check_home_identity(home: Path) -> dict[str, Any]:
    """The home's identity (``$HOME/home.json``), written on first use; refuse a home that
    was made somewhere else.

    The Iceberg catalog keeps absolute locations of every metadata and data file, and the
    application database those of the exports, so a copied or moved home would write into,
    and its maintenance delete from, the original's files. ``home.json`` records where the
    home was made; a home whose record names another folder is refused, saying so. (A home
    made before ``home.json`` gets one on first use; ``harmonise.lake.Lake`` then still
    refuses a catalog whose tables lie outside its warehouse.)
    """
    path = home / HOME_FILE
    here = str(home)
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        record = {"format": 1, "id": uuid.uuid4().hex, "path": here}
        tmp = home / f".{HOME_FILE}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        try:
            os.link(tmp, path)  # never replaces a record another process wrote first
        except FileExistsError:
            record = json.loads(path.read_text())
        finally:
            tmp.unlink()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"{path} is not valid JSON ({exc}); it records where this home was made: "
            "restore it, or build a fresh home"
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        raise SettingsError(
            f'{path} does not record where this home was made (no "path"); restore it, '
            "or build a fresh home"
        )
    made = record["path"]
    if made != here:
        raise HomeMovedError(
            f"{home} is a copy or a move of the oncolake home made at {made} ({path} says "
            f"so): its catalog and database name that home's files, which using this one "
            f"would write into and delete. Use the original (ONCOLAKE_HOME={made}), or "
            "build a fresh home here (an empty ONCOLAKE_HOME, `oncolake lake init`, then "
            "ingest the bundles again); copying or moving a home is not supported"
        )
    return record


def _load_or_create_secrets(path: Path) -> dict[str, str]:
    """Read the embedded default's secrets, generating the missing ones (file mode 600)."""
    existing: dict[str, str] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"{path} is not valid JSON ({exc}); delete it to generate new keys "
                "(data signed with the old keys will then be refused)."
            ) from exc
    missing = [n for n in SECRET_FIELDS if not existing.get(n)]
    if missing:
        for name in missing:
            existing[name] = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(existing, fh, indent=2)
        os.replace(tmp, path)
    os.chmod(path, 0o600)
    return existing


def get_settings() -> Settings:
    """Read the settings from the environment (a new object each call: tests change env).

    Raises :class:`SettingsError` with one readable line per problem, naming the variable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["loc"]:
                msg = f"ONCOLAKE_{str(err['loc'][0]).upper()}: {msg}"
            problems.append(msg)
        raise SettingsError("; ".join(problems)) from None
