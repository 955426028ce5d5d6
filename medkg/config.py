"""Settings, resolved in this order: defaults < medkg.toml < environment (MEDKG_*) < explicit overrides (flags).

The workspace (``MEDKG_HOME``, default ``./.medkg``) holds the graph store and, later, indexes and models.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError

CONFIG_FILE_NAME = "medkg.toml"


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".medkg")
    # A remote SPARQL 1.1 store; when unset the embedded Oxigraph store under `home` is used.
    endpoint: str | None = None
    # Some stores (Fuseki, GraphDB) take updates at another URL; defaults to `endpoint`.
    update_endpoint: str | None = None
    # The store's Graph Store Protocol endpoint for bulk loads; unset: the usual place for the server that
    # answers (Virtuoso, Fuseki, Oxigraph server); "none": load with SPARQL Update.
    graph_store: str | None = None
    # HTTP basic or digest credentials for the remote store (whichever it asks for). Never printed: the
    # password is left out of the settings' repr and of every message.
    endpoint_user: str | None = None
    endpoint_password: str | None = field(default=None, repr=False)
    query_timeout: float = 30.0
    # An Elasticsearch server for the scale text-index back-end (optional).
    es_url: str | None = None

    @property
    def store_path(self) -> Path:
        return self.home / "store"


_ENV = {"home": "MEDKG_HOME", "endpoint": "MEDKG_ENDPOINT", "update_endpoint": "MEDKG_UPDATE_ENDPOINT",
        "graph_store": "MEDKG_GRAPH_STORE", "endpoint_user": "MEDKG_ENDPOINT_USER",
        "endpoint_password": "MEDKG_ENDPOINT_PASSWORD",
        "query_timeout": "MEDKG_QUERY_TIMEOUT", "es_url": "MEDKG_ES_URL"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    try:
        if name == "home":
            return Path(value)
        if name == "query_timeout":
            timeout = float(value)
            if timeout <= 0:
                raise ValueError
            return timeout
        if name == "graph_store" and str(value).lower() == "none":
            return ""  # no Graph Store Protocol: SPARQL Update
        return str(value) if value not in ("", None) else None
    except (TypeError, ValueError):
        shown = "(hidden)" if name == "endpoint_password" else repr(value)
        raise MedkgError(f"setting {name!r} has an invalid value {shown}", path=origin) from None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from medkg.toml (``[medkg]`` table or top level), MEDKG_* variables and overrides."""
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    path = config_file or Path(os.environ.get("MEDKG_CONFIG", CONFIG_FILE_NAME))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise MedkgError(f"invalid TOML: {err}", path=path) from None
        table = data.get("medkg", data)
        for key, value in table.items():
            if key not in known:
                raise MedkgError(f"unknown setting {key!r} (known: {', '.join(sorted(known))})", path=path)
            values[key] = _coerce(key, value, str(path))
    elif config_file is not None:
        raise MedkgError("configuration file not found", path=config_file)
    for name, var in _ENV.items():
        if os.environ.get(var):
            values[name] = _coerce(name, os.environ[var], f"${var}")
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    return replace(Settings(), **values)
