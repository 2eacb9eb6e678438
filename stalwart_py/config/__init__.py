"""Server configuration: one declarative schema, from which everything else is derived.

The schema is the set of section dataclasses (``ServerConfig``, ``LmtpConfig``, ...), one module
per area beside the names it configures: :mod:`.server`, :mod:`.lmtp` (with ``[delivery]``),
:mod:`.imap`, :mod:`.http`, :mod:`.listeners` (``[tls]`` and the port rule), :mod:`.auth`,
:mod:`.storage` (``[search]``, ``[store]``); :mod:`.root` gathers them into :class:`Config`.
Every attribute is declared with :func:`~.schema.setting` (value kind from :mod:`.kinds`, default
as written in TOML, operator-facing documentation, optional checks from :mod:`.checks`).  From
that single table come

* loading and validation of a TOML file (:func:`load_config`, :func:`check_config`, in
  :mod:`.loader`),
* environment overrides ``STALWART_<SECTION>_<KEY>`` (they beat the file),
* the reference document ``docs/configuration.md`` (``python -m stalwart_py.config --markdown``)
  and a complete example file (``--example``), in :mod:`.docs`.

Every problem is collected and reported at once as a :class:`Problem` with its location.
This module only re-exports the names the rest of the server uses.
"""

from __future__ import annotations

from .auth import AuthConfig
from .checks import (
    EXISTING_FILE,
    LANGUAGE,
    ORIGINS,
    PORT,
    POSITIVE,
    PUBLIC_URL,
    SEPARATOR,
    Check,
    at_least,
    at_most,
)
from .http import HttpConfig
from .imap import ImapConfig
from .kinds import (
    ADDRESS,
    BOOL,
    DURATION,
    FLOAT,
    HOSTNAME,
    INT,
    OPTIONAL_PATH,
    PATH,
    SIZE,
    STR,
    STR_LIST,
    Kind,
    enum_of,
)
from .listeners import TlsConfig
from .lmtp import DeliveryConfig, LmtpConfig
from .loader import check_config, default_config, load_config
from .problems import ConfigError, Problem, format_problems
from .root import RULES, SCHEMA, SECTIONS, Config
from .schema import ENV_PREFIX, Key, Rule, Setting, Values, setting
from .server import LogLevel, ServerConfig
from .storage import SearchBackend, SearchConfig, StoreConfig
from .toml_lines import locate_keys

__all__ = [
    "ADDRESS",
    "BOOL",
    "DURATION",
    "ENV_PREFIX",
    "EXISTING_FILE",
    "FLOAT",
    "HOSTNAME",
    "INT",
    "LANGUAGE",
    "OPTIONAL_PATH",
    "ORIGINS",
    "PATH",
    "PORT",
    "POSITIVE",
    "PUBLIC_URL",
    "RULES",
    "SCHEMA",
    "SECTIONS",
    "SEPARATOR",
    "SIZE",
    "STR",
    "STR_LIST",
    "AuthConfig",
    "Check",
    "Config",
    "ConfigError",
    "DeliveryConfig",
    "HttpConfig",
    "ImapConfig",
    "Key",
    "Kind",
    "LmtpConfig",
    "LogLevel",
    "Problem",
    "Rule",
    "SearchBackend",
    "SearchConfig",
    "ServerConfig",
    "Setting",
    "StoreConfig",
    "TlsConfig",
    "Values",
    "at_least",
    "at_most",
    "check_config",
    "default_config",
    "enum_of",
    "format_problems",
    "load_config",
    "locate_keys",
    "setting",
]
