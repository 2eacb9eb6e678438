"""``[server]``: identity of this server, where it keeps its data, how much it logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .kinds import HOSTNAME, PATH, enum_of
from .schema import setting

LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Identity of this server and where it keeps its data."""

    data_dir: Path = setting(
        PATH,
        "./data",
        "Directory holding the mail store (LevelDB), message blobs, the full-text index and "
        "generated TLS material. It is created on first start. A relative path resolves against "
        "the current working directory of the `stalwart-py` process, not against the "
        "configuration file.",
    )
    hostname: str = setting(
        HOSTNAME,
        "localhost",
        "Fully qualified name of this server, used in protocol greetings (LMTP, IMAP) and in the "
        "`by` clause of the `Received:` header added at delivery (RFC 5321 §4.4). Set it to the "
        "name your MTA and clients know the server by.",
    )
    log_level: LogLevel = setting(
        enum_of(LogLevel),
        "info",
        "Least severe log messages written. `debug` also logs protocol exchanges and is "
        "verbose; `warning` and `error` keep the log quiet.",
    )
    default_domain: str = setting(
        HOSTNAME,
        "localhost",
        "Mail domain created on first start (an empty data directory), together with an "
        "administrator account and a demo user.",
    )
