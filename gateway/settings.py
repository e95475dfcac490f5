"""Gateway settings: ``config/gateway.yaml`` overlaid by ``GATEWAY_*`` environment variables.

Settings are built by :func:`load_settings`; nothing is read at import time. Precedence, highest first:
keyword overrides given to :func:`load_settings`, environment variables (``GATEWAY_API_PORT=9000``; nested
fields with a double underscore, ``GATEWAY_IDENTITY__ISA_ID=ACME``), the YAML file, then the defaults below.

Relative paths are resolved against ``home`` (by default the directory holding the ``config/`` folder of the
file that was read, or the current directory), so the gateway runs the same from any working directory.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.errors import ConfigError, Location
from gateway.notify.settings import NotificationSettings
from gateway.partners.identity import OwnCertificate

DEFAULT_CONFIG = Path("config") / "gateway.yaml"

# Values read from the YAML file for the Settings() being built right now (see load_settings).
_file_values: ContextVar[dict[str, Any]] = ContextVar("_file_values", default=MappingProxyType({}))  # type: ignore[arg-type]


class _YamlFileSource(PydanticBaseSettingsSource):
    """The settings file as a source below the environment (pydantic-settings deep-merges nested keys)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get())


class OwnIdentity(BaseModel):
    """Who *we* are on the wire. Partners may address us by another id (see the partner file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "Example Logistics Hub"
    isa_qualifier: str = Field("ZZ", min_length=2, max_length=2)
    isa_id: str = Field("EXAMPLEHUB", min_length=1, max_length=15)
    gs_id: str = Field("EXAMPLEHUB", min_length=2, max_length=15)
    as2_id: str | None = None
    as2_mdn_url: str | None = Field(
        None,
        description="our public AS2 URL (POST /as2) where partners send asynchronous MDNs (Receipt-Delivery-Option);"
        " required by any partner channel with mdn: async",
    )
    as2_message_id_domain: str | None = Field(
        None, description="right-hand side of the Message-IDs of the AS2 messages we send, e.g. as2.example.com"
    )
    as2_email: str | None = Field(
        None, description="our AS2 contact address, sent as Disposition-Notification-To, e.g. as2@example.com"
    )
    certificates: list[OwnCertificate] = Field(
        default_factory=list, description="our certificates and private keys (see gateway/partners/identity.py)"
    )

    @field_validator("isa_id", "gs_id")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("as2_mdn_url")
    @classmethod
    def _mdn_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("as2_mdn_url must be an http:// or https:// URL (our POST /as2 as partners reach it)")
        return v

    @field_validator("as2_message_id_domain")
    @classmethod
    def _domain(cls, v: str | None) -> str | None:
        if v is not None and (not v or any(c in v for c in "<>@ \t\r\n")):
            raise ValueError("as2_message_id_domain is a host name such as as2.example.com (no '<', '>', '@', spaces)")
        return v

    @field_validator("as2_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and (v.count("@") != 1 or any(c in v for c in "<> \t\r\n")):
            raise ValueError("as2_email is one address such as as2@example.com")
        return v


class FolderSettings(BaseModel):
    """How local folder channels decide that a file is complete."""

    model_config = ConfigDict(extra="forbid")

    min_age_seconds: float = Field(1.0, ge=0, description="a file younger than this (by mtime) is not picked up")
    sweep_seconds: float = Field(5.0, gt=0, description="periodic re-scan of every inbox, besides file events")
    ignore_suffixes: list[str] = Field(
        default_factory=lambda: [".tmp", ".part", ".partial", ".filepart", ".crdownload"],
        description="names ending like this are files still being written",
    )
    shared: bool | None = Field(
        None,
        description="several nodes poll the same inbox folders: each file is claimed by one node (renamed into"
        " <inbox>/.claimed/<node id>/) before it is processed; default: on with PostgreSQL, off with SQLite",
    )
    claim_stale_seconds: float = Field(
        60.0, gt=0, description="a node's claims on shared folders not renewed for this long are taken over"
    )


class EdgeSettings(BaseModel):
    """Limits at the public edge (``POST /as2``): what unauthenticated input may cost (see docs/configuration.md)."""

    model_config = ConfigDict(extra="forbid")

    as2_max_body_bytes: int = Field(100 * 1024 * 1024, ge=1024, description="AS2 request body limit, known partners")
    unknown_sender_max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="AS2 request body limit when the AS2-From is no partner of ours"
    )
    unknown_sender_per_minute: float = Field(
        30, gt=0, description="AS2 requests from unknown senders accepted per minute and client address"
    )
    unknown_sender_burst: int = Field(10, ge=1, description="unknown-sender requests accepted at once before 429s")
    quote_data_in_reasons: bool = Field(
        False, description="failure reasons may quote the offending data (off: position and element name only)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_ignore_empty=False,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    home: Path = Field(default_factory=Path.cwd, description="base for every relative path below")
    data_dir: Path = Field(Path("var"), description="embedded store, archive and local folder channels")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")
    archive_dir: Path | None = Field(None, description="content-addressed archive; default: data_dir/archive")
    archive_check_messages: int = Field(
        20, ge=0, description="at start, the payloads of the newest N messages must be in the archive (0: no check)"
    )
    partners_dir: Path = Path("partners")
    mappings_dir: Path = Path("mappings")
    partners_reload_seconds: float = Field(5.0, gt=0, description="re-check partner files this often (hot reload)")
    ack_overdue_check_seconds: float = Field(
        60.0, gt=0, description="look for overdue partner acknowledgements (997/999) this often"
    )
    certificate_warning_days: float = Field(30, ge=0, description="warn when a certificate expires this soon")
    secrets_dir: Path | None = Field(None, description="files named after {secret: NAME} references (optional)")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    identity: OwnIdentity = Field(default_factory=OwnIdentity)
    folder: FolderSettings = Field(default_factory=FolderSettings)
    archive_retention_days: int | None = Field(
        None, ge=1, description="purge archived payloads of finished messages older than this; unset keeps forever"
    )
    outbound_lease_seconds: float = Field(
        120.0, gt=0, description="a document build or delivery not finished within this is resumed by any node"
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="an inbound message in flight is leased to its node this long, renewed by the node's "
        "heartbeat; a node gone for longer leaves it to the others (docs/operations.md, several nodes)",
    )
    node_heartbeat_seconds: float = Field(
        5.0, gt=0, description="each node renews its leases and its row in the node registry this often "
        "(at most a third of the shortest lease); three missed heartbeats show the node as gone",
    )
    handoff_file: Path = Field(
        Path("config/handoff.yaml"), description="destinations and routes for internal systems (docs/handoff.md)"
    )
    handoff_sweep_seconds: float = Field(1.0, gt=0, description="how often due hand-off deliveries are looked for")
    inbound_workers: int | None = Field(
        None, ge=1, le=32, description="files of one inbox processed at once in each process; default 2 on PostgreSQL"
        " with one inbound process, otherwise 1"
    )
    inbound_processes: Annotated[int, Field(ge=0, le=16)] | Literal["auto"] = Field(
        1, description="processes taking files from the folder inboxes: `gateway serve` starts this many"
        " minus one inbound worker processes beside itself (each its own node id, the inboxes shared between them);"
        " `auto` (or 0): one per usable core, at most 4 (the shipped config/gateway.yaml says auto);"
        " docs/operations.md, \"Inbound worker processes\"",
    )
    mapping_split_mb: float = Field(
        2.0, ge=0, description="an X12 message of at least this many MB is mapped on two cores (this process and a"
        " forked child, docs/operations.md \"Throughput\"); 0 turns it off",
    )
    service_level_check_seconds: float = Field(
        30.0, gt=0, description="index orders and shipments and look for service-level breaches this often"
    )
    notifications: NotificationSettings = Field(
        default_factory=NotificationSettings, description="webhook and email notices (see gateway/notify)"
    )
    metrics_require_key: bool = Field(False, description="GET /metrics needs a viewer API key (default: open)")
    failpoints: str = Field(
        "",
        description="fault injection for crash tests, e.g. 'inbound.after_archive=exit'; empty in production",
    )
    edge: EdgeSettings = Field(default_factory=EdgeSettings)

    # -- resolved paths -------------------------------------------------------------------------------------
    def path(self, p: Path | str) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.home / p)

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    @property
    def archive_path(self) -> Path:
        return self.path(self.archive_dir) if self.archive_dir else self.data_path / "archive"

    @property
    def partners_path(self) -> Path:
        return self.path(self.partners_dir)

    @property
    def mappings_path(self) -> Path:
        return self.path(self.mappings_dir)

    @property
    def handoff_path(self) -> Path:
        return self.path(self.handoff_file)

    @property
    def secrets_path(self) -> Path | None:
        return self.path(self.secrets_dir) if self.secrets_dir else None

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'gateway.db'}"

    @property
    def folders_shared(self) -> bool:
        """Whether folder inboxes are claimed per node (folder.shared; by default whenever the store is not
        SQLite, i.e. whenever several nodes may share it; always with inbound worker processes)."""
        if self.processes > 1:
            return True  # the inbound worker processes share every inbox with this one
        if self.folder.shared is not None:
            return self.folder.shared
        return not self.sqlite

    @property
    def sqlite(self) -> bool:
        return self.database.startswith("sqlite")

    @property
    def processes(self) -> int:
        """Processes taking inbound folder files (``inbound_processes``), ``auto`` (or 0) resolved: one per usable
        core (CPU affinity and cgroup quota, :mod:`gateway.cores`), at most four. On a machine with two free cores
        a second process took 1.3-1.6 times the small files per second on both stores (bench/results/procs3.txt);
        the library default stays 1 (a gateway made in a test or a script is one process), the shipped
        config/gateway.yaml says auto."""
        if self.inbound_processes == "auto" or self.inbound_processes == 0:
            from gateway.cores import auto_processes

            return auto_processes()
        return self.inbound_processes

    @property
    def workers(self) -> int:
        """Inbound files in flight per inbox and process: two on PostgreSQL with one inbound process (its round
        trips and commits overlap), otherwise one: on SQLite (one writer at a time: more threads only contend for the
        lock), and on PostgreSQL once several processes take the inbox (``inbound_processes``, ``auto`` on two cores
        and more), where the processes already overlap each other's round trips and a second thread in each only
        splits their batches and hands the GIL about: two processes of one thread took 598-630 small 856 files per
        second against 513-520 with two threads each, at 1.70 against 2.11 ms of gateway CPU and 0.71 against
        0.85 ms of PostgreSQL CPU per file (bench/results/e2e-round8.txt). Not four: a poll's claim of 100 files
        went in batches of 25 instead of 50 (twice the store's statements and commits per file) and four threads on
        two cores cost GIL hand-offs: 15-25 % more gateway CPU and 25-30 % more PostgreSQL CPU per small file for no
        measurable gain in files per second (bench/results/pgpath.txt)."""
        if self.inbound_workers is not None:
            return self.inbound_workers
        if not self.database.startswith(("postgres", "postgresql")):
            return 1
        return 2 if self.processes == 1 else 1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file: {exc.strerror}", location=Location(file=str(path))) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the settings file: not UTF-8 text (byte {exc.start})",
                          location=Location(file=str(path))) from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            location=Location(file=str(path), line=mark.line + 1 if mark else None),
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError("the settings file must be a mapping of keys to values", location=Location(file=str(path)))
    return data


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings. ``config_file`` defaults to ``$GATEWAY_CONFIG`` or ``./config/gateway.yaml`` if present."""
    explicit = config_file or os.environ.get("GATEWAY_CONFIG")
    path = Path(explicit) if explicit else Path.cwd() / DEFAULT_CONFIG
    file_values: dict[str, Any] = {}
    if path.is_file() or (explicit and path.exists()):  # a folder given as the file: say it cannot be read
        file_values = _read_yaml(path)
        if "home" not in file_values and "home" not in overrides:
            # config/gateway.yaml -> the folder above config/ is home
            parent = path.resolve().parent
            file_values["home"] = parent.parent if parent.name == "config" else parent
    elif explicit:
        raise ConfigError("settings file not found", location=Location(file=str(path)),
                          hint="give an existing file with --config or GATEWAY_CONFIG")
    token = _file_values.set(file_values)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"invalid settings: {problems}", location=Location(file=str(path))) from exc
    finally:
        _file_values.reset(token)
