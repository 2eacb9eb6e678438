"""Tests for stalwart_py.config: the schema, loading, env overrides, problems and the doc."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from stalwart_py import config as C
from stalwart_py.config import (
    SCHEMA,
    SECTIONS,
    Config,
    ConfigError,
    Problem,
    check_config,
    default_config,
    load_config,
    locate_keys,
)
from stalwart_py.config import docs as config_docs
from stalwart_py.config.docs import render_example, render_markdown

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def write(tmp_path: Path, text: str, name: str = "stalwart.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path | None, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    return [(p.location, p.message) for p in check_config(path, env or {})]


# --- defaults -------------------------------------------------------------------------------


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = default_config()
    assert cfg.server.data_dir == tmp_path / "data"
    assert cfg.server.hostname == "localhost"
    assert cfg.server.log_level == "info"
    assert cfg.server.default_domain == "localhost"
    assert (cfg.lmtp.enabled, cfg.lmtp.bind, cfg.lmtp.port) == (True, "127.0.0.1", 2424)
    assert cfg.lmtp.max_line_length == 4096
    assert cfg.lmtp.max_message_size == 50 * MiB
    assert cfg.lmtp.max_recipients == 100
    assert cfg.lmtp.idle_timeout == 300.0
    assert cfg.lmtp.starttls is True
    assert (cfg.imap.port, cfg.imap.tls_port) == (1143, 1993)
    assert cfg.imap.allow_plaintext_auth is False
    assert cfg.imap.max_line_length == 65536
    assert cfg.imap.max_literal_size == 50 * MiB
    assert (cfg.imap.idle_keepalive, cfg.imap.idle_timeout) == (120.0, 1800.0)
    assert cfg.imap.command_timeout == 300.0
    assert (cfg.imap.max_connections_per_user, cfg.imap.max_connections_per_ip) == (50, 200)
    assert (cfg.http.port, cfg.http.tls_port) == (8080, 8443)
    assert cfg.http.public_url == ""  # Session URLs from each request's scheme and Host
    assert cfg.http.max_request_size == 10 * MiB
    assert cfg.http.max_upload_size == 50 * MiB
    assert (cfg.http.max_concurrent_requests, cfg.http.max_concurrent_uploads) == (4, 4)
    assert cfg.http.max_calls_in_request == 16
    assert (cfg.http.max_objects_in_get, cfg.http.max_objects_in_set) == (500, 500)
    assert cfg.http.cors_origins == ()
    assert cfg.tls.cert is None and cfg.tls.key is None
    assert cfg.search.backend == "tantivy"
    assert cfg.search.index_dir == tmp_path / "data" / "fts"  # derived from data_dir
    assert cfg.search.default_language == "en"
    assert cfg.search.detect_language is True
    assert cfg.search.commit_interval == 1.0
    assert cfg.search.batch_size == 500
    assert cfg.delivery.duplicate_window == 86400.0
    assert cfg.delivery.add_delivered_to is True
    assert cfg.delivery.plus_separator == "+"
    assert cfg.delivery.max_parse_size == 50 * MiB
    assert (cfg.auth.argon2_time_cost, cfg.auth.argon2_memory_cost) == (3, 65536)
    assert cfg.auth.argon2_parallelism == 4
    assert cfg.auth.login_cache_ttl == 300.0
    assert cfg.store.group_commit_max == 256
    assert cfg.store.blob_upload_ttl == 86400.0
    assert cfg.store.change_history == 10000


def test_load_without_file_equals_defaults() -> None:
    assert load_config(None, {}) == default_config()


def _matches(value: object, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arm) for arm in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_matches(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, float)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def test_schema_types_match_annotations() -> None:
    """Every default converts to the Python type its dataclass attribute declares."""
    cfg = default_config()
    for key in SCHEMA:
        hint = typing.get_type_hints(SECTIONS[key.section])[key.name]
        value = getattr(getattr(cfg, key.section), key.name)
        assert _matches(value, hint), (key.dotted, value, hint)


def test_schema_is_complete_and_documented() -> None:
    assert list(SECTIONS) == [
        "server", "lmtp", "imap", "http", "tls", "search", "delivery", "auth", "store",
    ]  # fmt: skip
    assert len(SCHEMA) == 4 + 8 + 12 + 16 + 2 + 8 + 4 + 4 + 3
    for key in SCHEMA:
        assert key.setting.doc.strip(), key.dotted
        assert key.env_var == f"STALWART_{key.section.upper()}_{key.name.upper()}"


def test_config_is_frozen() -> None:
    cfg = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lmtp.port = 1  # type: ignore[misc]
    assert dataclasses.replace(cfg.lmtp, port=0).port == 0


# --- file values ----------------------------------------------------------------------------


FULL = """\
# a full configuration
[server]
data_dir = "var/mail"
hostname = "Mail.Example.COM"
log_level = "DEBUG"
default_domain = "example.com"

[lmtp]
enabled = false
bind = "::1"
port = 24
max_line_length = 1000
max_message_size = "10M"
max_recipients = 500
idle_timeout = 90
starttls = false

[imap]
bind = "0.0.0.0"
port = 143
tls_port = 993
allow_plaintext_auth = true
max_literal_size = 1048576
idle_keepalive = "1m30s"
idle_timeout = "1h"
command_timeout = 2.5

[http]
port = 80
public_url = "https://mail.example.com/jmap"
cors_origins = ["https://webmail.example.com", "http://localhost:3000"]

[search]
backend = "whoosh"
index_dir = "/srv/fts"
default_language = "de"
commit_interval = "500ms"

[delivery]
duplicate_window = 0
plus_separator = "-"
max_parse_size = "1GiB"

[auth]
argon2_memory_cost = 32
argon2_parallelism = 4

[store]
blob_upload_ttl = "2w"
"""


def test_file_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, FULL), {})
    assert cfg.server.data_dir == tmp_path / "var" / "mail"  # relative to the cwd
    assert cfg.server.hostname == "mail.example.com"
    assert cfg.server.log_level == "debug"
    assert cfg.server.default_domain == "example.com"
    assert (cfg.lmtp.enabled, cfg.lmtp.bind, cfg.lmtp.port) == (False, "::1", 24)
    assert cfg.lmtp.max_line_length == 1000
    assert cfg.lmtp.max_message_size == 10 * MiB
    assert cfg.lmtp.max_recipients == 500
    assert cfg.lmtp.idle_timeout == 90.0 and isinstance(cfg.lmtp.idle_timeout, float)
    assert cfg.lmtp.starttls is False
    assert (cfg.imap.bind, cfg.imap.port, cfg.imap.tls_port) == ("0.0.0.0", 143, 993)
    assert cfg.imap.allow_plaintext_auth is True
    assert cfg.imap.max_literal_size == MiB
    assert cfg.imap.idle_keepalive == 90.0
    assert cfg.imap.idle_timeout == 3600.0
    assert cfg.imap.command_timeout == 2.5
    assert cfg.http.port == 80
    assert cfg.http.public_url == "https://mail.example.com/jmap"
    assert cfg.http.cors_origins == ("https://webmail.example.com", "http://localhost:3000")
    assert cfg.search.backend == "whoosh"
    assert cfg.search.index_dir == Path("/srv/fts")  # explicit: not derived
    assert cfg.search.default_language == "de"
    assert cfg.search.commit_interval == 0.5
    assert cfg.delivery.duplicate_window == 0.0
    assert cfg.delivery.plus_separator == "-"
    assert cfg.delivery.max_parse_size == 1024**3
    assert cfg.auth.argon2_memory_cost == 32
    assert cfg.store.blob_upload_ttl == 14 * 86400.0
    # keys not in the file keep their defaults
    assert cfg.imap.max_connections_per_ip == 200
    assert cfg.store.change_history == 10000


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing\n"), {}) == default_config()


def test_example_file_round_trips_to_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, render_example()), {}) == default_config()


def test_tls_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("y")
    cfg = load_config(write(tmp_path, f'[tls]\ncert = "{cert}"\nkey = "{key}"\n'), {})
    assert (cfg.tls.cert, cfg.tls.key) == (cert, key)


def test_home_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = load_config(None, {"STALWART_SERVER_DATA_DIR": "~/mail"})
    assert cfg.server.data_dir == tmp_path / "mail"


def test_public_url_is_not_derived() -> None:
    """Empty ``http.public_url`` stays empty: the JMAP session then builds its URLs from each
    request's scheme and Host (a URL derived from ``bind`` named ``http`` on the TLS port)."""
    env = {"STALWART_HTTP_BIND": "0.0.0.0", "STALWART_SERVER_HOSTNAME": "mx.example.org"}
    assert load_config(None, env).http.public_url == ""


# --- environment overrides ------------------------------------------------------------------


def test_env_beats_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[lmtp]\nport = 3000\nmax_message_size = "1M"\n[imap]\nallow_plaintext_auth = false\n',
    )
    env = {
        "STALWART_LMTP_PORT": "4000",
        "STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "yes",
        "STALWART_SERVER_DATA_DIR": "/srv/stalwart",
        "STALWART_HTTP_CORS_ORIGINS": " https://a.example , ,https://b.example:8443 ",
        "STALWART_IMAP_IDLE_TIMEOUT": "45m",
        "STALWART_SEARCH_BACKEND": "Whoosh",
        "PATH": "/usr/bin",  # unrelated variables are ignored
        "STALWART_CONFIG": "/etc/stalwart.toml",  # not a section: ignored
    }
    cfg = load_config(path, env)
    assert cfg.lmtp.port == 4000
    assert cfg.lmtp.max_message_size == MiB  # from the file: no env override
    assert cfg.imap.allow_plaintext_auth is True
    assert cfg.server.data_dir == Path("/srv/stalwart")
    assert cfg.search.index_dir == Path("/srv/stalwart/fts")
    assert cfg.http.cors_origins == ("https://a.example", "https://b.example:8443")
    assert cfg.imap.idle_timeout == 2700.0
    assert cfg.search.backend == "whoosh"


def test_env_empty_values() -> None:
    cfg = load_config(
        None, {"STALWART_HTTP_CORS_ORIGINS": "", "STALWART_DELIVERY_PLUS_SEPARATOR": ""}
    )
    assert cfg.http.cors_origins == ()
    assert cfg.delivery.plus_separator == ""
    assert problems_of(None, {"STALWART_LMTP_PORT": ""}) == [
        ("env STALWART_LMTP_PORT", 'expected an integer, got ""')
    ]


def test_env_default_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STALWART_LMTP_PORT", "2525")
    assert load_config(None).lmtp.port == 2525


def test_env_unknown_key_of_known_section() -> None:
    assert problems_of(None, {"STALWART_IMAP_PROT": "1", "STALWART_NOPE_X": "1"}) == [
        ("env STALWART_IMAP_PROT", "unknown setting (did you mean 'STALWART_IMAP_PORT'?)")
    ]


def test_env_bad_value_does_not_hide_good_file_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[lmtp]\nport = 3000\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"STALWART_LMTP_PORT": "x"})
    assert [str(p) for p in info.value.problems] == [
        'env STALWART_LMTP_PORT: expected an integer, got "x"'
    ]


# --- value kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, 0),
        (4096, 4096),
        ("4096", 4096),
        ("4K", 4096),
        ("4k", 4096),
        ("4KB", 4096),
        ("4KiB", 4096),
        ("50M", 50 * MiB),
        (" 1 G ", 1024**3),
        ("1.5M", 3 * MiB // 2),
        ("2T", 2 * 1024**4),
        ("512b", 512),
    ],
)
def test_size_parsing(raw: object, expected: int) -> None:
    assert C.SIZE.from_toml(raw) == expected
    if isinstance(raw, str):
        assert C.SIZE.from_env(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("10Q", 'expected a size such as 4096, "4K", "50M" or "1G", got "10Q"'),
        ("", 'expected a size such as 4096, "4K", "50M" or "1G", got ""'),
        ("-1M", 'expected a size such as 4096, "4K", "50M" or "1G", got "-1M"'),
        ("M", 'expected a size such as 4096, "4K", "50M" or "1G", got "M"'),
        ("1.0000001K", '"1.0000001K" is not a whole number of bytes'),
        (-5, "a size cannot be negative, got -5"),
        (1.5, 'expected a size in bytes (an integer, or a string such as "50M"), got float 1.5'),
        (
            True,
            'expected a size in bytes (an integer, or a string such as "50M"), got boolean true',
        ),
    ],
)
def test_size_rejects(raw: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        C.SIZE.from_toml(raw)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (0, 0.0),
        (30, 30.0),
        (2.5, 2.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("250ms", 0.25),
        ("1h30m", 5400.0),
        ("1h 30m 15s", 5415.0),
        ("1.5h", 5400.0),
        ("2H", 7200.0),
    ],
)
def test_duration_parsing(raw: object, seconds: float) -> None:
    assert C.DURATION.from_toml(raw) == seconds
    if isinstance(raw, str):
        assert C.DURATION.from_env(raw) == seconds


@pytest.mark.parametrize("raw", ["", "5x", "m5", "5m-", "five", "1h30", "--1"])
def test_duration_rejects_text(raw: str) -> None:
    with pytest.raises(ValueError, match="expected a duration such as 30"):
        C.DURATION.from_toml(raw)
    with pytest.raises(ValueError, match="expected a duration such as 30"):
        C.DURATION.from_env(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (-1, "a duration cannot be negative, got integer -1"),
        ("-5", 'a duration cannot be negative, got string "-5"'),
        (float("inf"), "expected a finite duration, got float inf"),
        (False, 'expected a duration (seconds, or a string such as "5m"), got boolean false'),
        ([1], 'expected a duration (seconds, or a string such as "5m"), got an array'),
    ],
)
def test_duration_rejects_values(raw: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        C.DURATION.from_toml(raw)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True), (" on ", True),
        ("false", False), ("0", False), ("no", False), ("OFF", False),
    ],
)  # fmt: skip
def test_bool_env(text: str, value: bool) -> None:
    assert C.BOOL.from_env(text) is value


@pytest.mark.parametrize("text", ["", "2", "y", "enabled", "truee"])
def test_bool_env_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected true/false/1/0/yes/no/on/off"):
        C.BOOL.from_env(text)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("true", 'expected a boolean, got string "true" (write true or false without quotes)'),
        (1, "expected a boolean, got integer 1"),
    ],
)
def test_bool_toml_rejects(raw: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        C.BOOL.from_toml(raw)
    assert str(info.value) == message


def test_int_kind() -> None:
    assert C.INT.from_toml(7) == 7
    assert C.INT.from_env(" 42 ") == 42
    for bad, shown in [(True, "boolean true"), (7.0, "float 7.0"), ("7", 'string "7"')]:
        with pytest.raises(ValueError) as info:
            C.INT.from_toml(bad)
        assert str(info.value) == f"expected an integer, got {shown}"
    for text in ["7.5", "0x10", "seven"]:
        with pytest.raises(ValueError, match="expected an integer"):
            C.INT.from_env(text)


def test_float_kind() -> None:
    assert C.FLOAT.from_toml(3) == 3.0 and isinstance(C.FLOAT.from_toml(3), float)
    assert C.FLOAT.from_env("0.25") == 0.25
    for bad in (True, "1.0", float("nan")):
        with pytest.raises(ValueError):
            C.FLOAT.from_toml(bad)
    for text in ("inf", "abc"):
        with pytest.raises(ValueError):
            C.FLOAT.from_env(text)


def test_str_kind() -> None:
    assert C.STR.from_toml("x y") == "x y"
    assert C.STR.from_env(" raw ") == " raw "
    with pytest.raises(ValueError, match="expected a string, got integer 5"):
        C.STR.from_toml(5)


def test_path_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert C.PATH.from_toml("a/../b") == tmp_path / "b"
    assert C.PATH.from_env("/abs/dir") == Path("/abs/dir")
    assert C.OPTIONAL_PATH.from_toml("") is None
    assert C.OPTIONAL_PATH.from_env("") is None
    assert C.OPTIONAL_PATH.from_toml("x") == tmp_path / "x"
    with pytest.raises(ValueError, match="must not be empty"):
        C.PATH.from_toml("")
    with pytest.raises(ValueError, match="NUL"):
        C.PATH.from_env("a\x00b")
    with pytest.raises(ValueError, match="expected a string, got an array"):
        C.PATH.from_toml(["a"])


def test_list_kind() -> None:
    assert C.STR_LIST.from_toml([]) == ()
    assert C.STR_LIST.from_toml(["a", "b"]) == ("a", "b")
    assert C.STR_LIST.from_env("a,b , c,") == ("a", "b", "c")
    with pytest.raises(ValueError, match="item 2: expected a string, got integer 3"):
        C.STR_LIST.from_toml(["a", 3])
    with pytest.raises(ValueError, match='expected an array of strings, got string "a"'):
        C.STR_LIST.from_toml("a")


def test_enum_kind() -> None:
    kind = C.enum_of(C.LogLevel)
    assert kind.from_toml("WARNING") == "warning"
    assert kind.from_env(" error ") == "error"
    with pytest.raises(ValueError) as info:
        kind.from_toml("verbose")
    assert str(info.value) == 'expected one of debug, info, warning, error, got "verbose"'


def test_hostname_and_address_kinds() -> None:
    assert C.HOSTNAME.from_toml("MX1.Example.org.") == "mx1.example.org"
    for bad in ["", "-a.example", "a..b", "under_score.example", "x" * 64 + ".com", "a b"]:
        with pytest.raises(ValueError, match="not a valid host name"):
            C.HOSTNAME.from_toml(bad)
    assert C.ADDRESS.from_toml("::") == "::"
    assert C.ADDRESS.from_toml("[::1]") == "::1"
    assert C.ADDRESS.from_env("10.0.0.1") == "10.0.0.1"
    assert C.ADDRESS.from_env("localhost") == "localhost"
    with pytest.raises(ValueError, match="neither an IP address nor a host name"):
        C.ADDRESS.from_toml("300.1.1.1:25")


# --- checks on values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STALWART_LMTP_PORT": "65536"}, "must be a port number 0–65535, got 65536"),
        ({"STALWART_HTTP_TLS_PORT": "-1"}, "must be a port number 0–65535, got -1"),
        (
            {"STALWART_LMTP_MAX_LINE_LENGTH": "999"},
            "must be at least 1000 (RFC 5321 §4.5.3.1.6), got 999",
        ),
        (
            {"STALWART_LMTP_MAX_RECIPIENTS": "10"},
            "must be at least 100 (RFC 5321 §4.5.3.1.8), got 10",
        ),
        (
            {"STALWART_IMAP_MAX_LINE_LENGTH": "1000"},
            "must be at least 8192 (RFC 7162 §4), got 1000",
        ),
        ({"STALWART_LMTP_MAX_MESSAGE_SIZE": "0"}, "must be greater than 0, got 0"),
        ({"STALWART_IMAP_IDLE_KEEPALIVE": "0s"}, "must be greater than 0, got 0.0"),
        ({"STALWART_SEARCH_BATCH_SIZE": "0"}, "must be at least 1, got 0"),
        (
            {"STALWART_SEARCH_DEFAULT_LANGUAGE": "eng"},
            'must be a two-letter ISO 639-1 code such as "en", got "eng"',
        ),
        (
            {"STALWART_DELIVERY_PLUS_SEPARATOR": "++"},
            'must be a single character or empty, got "++"',
        ),
        (
            {"STALWART_DELIVERY_PLUS_SEPARATOR": "@"},
            '"@" cannot separate a sub-address; use e.g. "+" or "-"',
        ),
        (
            {"STALWART_HTTP_CORS_ORIGINS": "https://ok.example,https://x.example/path"},
            '"https://x.example/path" is not an origin like "https://mail.example.com" or "*"',
        ),
        (
            {"STALWART_HTTP_PUBLIC_URL": "mail.example.com"},
            '"mail.example.com" is not an absolute http:// or https:// URL',
        ),
        ({"STALWART_HTTP_PUBLIC_URL": "https://mail.example.com/"}, 'must not end with "/"'),
        (
            {"STALWART_AUTH_ARGON2_PARALLELISM": "0"},
            "must be at least 1 (RFC 9106 §3.1), got 0",
        ),
        ({"STALWART_TLS_CERT": "/nonexistent/cert.pem"}, "does not exist or is not a regular"),
    ],
)
def test_value_checks(env: dict[str, str], message: str) -> None:
    found = problems_of(None, env)
    assert len(found) == 1, found
    location, text = found[0]
    assert location == f"env {next(iter(env))}"
    assert message in text


def test_cors_wildcard_and_port_zero_are_fine() -> None:
    cfg = load_config(
        None,
        {
            "STALWART_HTTP_CORS_ORIGINS": "*",
            "STALWART_LMTP_PORT": "0",
            "STALWART_IMAP_PORT": "0",
            "STALWART_IMAP_TLS_PORT": "0",
        },
    )
    assert cfg.http.cors_origins == ("*",)
    assert (cfg.lmtp.port, cfg.imap.port, cfg.imap.tls_port) == (0, 0, 0)  # never clash


# --- rules between keys ---------------------------------------------------------------------


def test_tls_cert_without_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    path = write(tmp_path, f'[tls]\n\ncert = "{cert}"\n')
    assert problems_of(path) == [
        (f"{path}:3 tls.cert", "set both tls.cert and tls.key, or neither")
    ]


def test_argon2_memory_against_parallelism(tmp_path: Path) -> None:
    path = write(tmp_path, "[auth]\nargon2_parallelism = 8\nargon2_memory_cost = 32\n")
    assert problems_of(path) == [
        (
            f"{path}:3 auth.argon2_memory_cost",
            "argon2_memory_cost must be at least 8 × argon2_parallelism = 64 KiB "
            "(RFC 9106 §3.1), got 32",
        )
    ]


def test_port_clash_reported_where_the_operator_set_it(tmp_path: Path) -> None:
    # lmtp comes first in the listener order, but the operator set lmtp.port: report it there.
    path = write(tmp_path, "[lmtp]\nport = 1143\n")
    assert problems_of(path) == [
        (f"{path}:2 lmtp.port", "port 1143 is used by both lmtp.port and imap.port")
    ]
    # different binds do not clash; a wildcard bind clashes with everything
    assert problems_of(path, {"STALWART_LMTP_BIND": "127.0.0.2"}) == []
    assert problems_of(path, {"STALWART_IMAP_BIND": "::", "STALWART_LMTP_BIND": "127.0.0.2"}) == [
        (f"{path}:2 lmtp.port", "port 1143 is used by both lmtp.port and imap.port")
    ]
    # a disabled listener does not clash
    assert problems_of(path, {"STALWART_IMAP_ENABLED": "false"}) == []


def test_port_clash_same_section() -> None:
    assert problems_of(None, {"STALWART_HTTP_TLS_PORT": "8080"}) == [
        ("env STALWART_HTTP_TLS_PORT", "port 8080 is used by both http.port and http.tls_port")
    ]


def test_rules_skip_keys_already_wrong(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nargon2_parallelism = 8\nargon2_memory_cost = "lots"\n')
    assert problems_of(path) == [
        (f"{path}:3 auth.argon2_memory_cost", 'expected an integer, got string "lots"')
    ]


# --- unknown keys, line numbers, several problems -------------------------------------------


def test_unknown_section_and_keys_with_lines(tmp_path: Path) -> None:
    text = """\
# stalwart-py
[server]
hostname = "mx.example.com"
hostnme = "typo"

[lmtp]
port = 2425
"max recipients" = 5

[imapp]
port = 1

[imap.sub]
x = 1

[imap]
whatever.deep = 2
"""
    # (TOML allows [imap] after [imap.sub]: the sub-table was defined first.)
    path = write(tmp_path, text)
    assert problems_of(path) == [
        (f"{path}:4 server.hostnme", "unknown key (did you mean 'hostname'?)"),
        (f"{path}:8 lmtp.max recipients", "unknown key (did you mean 'max_recipients'?)"),
        (f"{path}:10 imapp", "unknown section [imapp] (did you mean 'imap'?)"),
        (f"{path}:13 imap.sub", "unknown key"),
        (f"{path}:17 imap.whatever", "unknown key"),
    ]


def test_top_level_key_and_non_table_section(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 5\nlmtp = 3\n")
    assert problems_of(path) == [
        (f"{path}:1 port", "unknown top-level key 'port': settings belong in a [section]"),
        (f"{path}:2 lmtp", "[lmtp] must be a table, got integer 3"),
    ]


def test_array_of_tables_section(tmp_path: Path) -> None:
    path = write(tmp_path, "[[imap]]\nport = 1\n")
    assert problems_of(path) == [(f"{path}:1 imap", "[imap] must be a table, got an array")]


def test_several_problems_reported_together(tmp_path: Path) -> None:
    text = """\
[server]
log_level = "loud"
data_dir = ""

[lmtp]
port = 70000
max_message_size = "lots"
starttls = "yes"

[search]
commit_interval = "soon"
unknown = 1
"""
    path = write(tmp_path, text)
    env = {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "maybe", "STALWART_STORE_CHANGE_HISTORY": "0"}
    with pytest.raises(ConfigError) as info:
        load_config(path, env)
    got = [str(p) for p in info.value.problems]
    assert got == [
        f'{path}:2 server.log_level: expected one of debug, info, warning, error, got "loud"',
        f"{path}:3 server.data_dir: must not be empty",
        f"{path}:6 lmtp.port: must be a port number 0–65535, got 70000",
        f'{path}:7 lmtp.max_message_size: expected a size such as 4096, "4K", "50M" or "1G", '
        'got "lots"',
        f'{path}:8 lmtp.starttls: expected a boolean, got string "yes" '
        "(write true or false without quotes)",
        f'{path}:11 search.commit_interval: expected a duration such as 30, "30s", "5m", "2h", '
        '"1d" or "1h30m", got "soon"',
        f"{path}:12 search.unknown: unknown key",
        "env STALWART_IMAP_ALLOW_PLAINTEXT_AUTH: expected true/false/1/0/yes/no/on/off, "
        'got "maybe"',
        "env STALWART_STORE_CHANGE_HISTORY: must be at least 1, got 0",
    ]
    assert str(info.value) == "\n".join(got)
    assert check_config(path, env) == info.value.problems


def test_invalid_toml_reports_line_and_env_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "[lmtp]\nport = 1\nport = 2\n")
    found = problems_of(path, {"STALWART_LMTP_PORT": "x"})
    assert found[0][0] == f"{path}:3"
    assert found[0][1].startswith("invalid TOML: ")
    assert found[1] == ("env STALWART_LMTP_PORT", 'expected an integer, got "x"')


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    (problem,) = check_config(path, {})
    assert problem.location == str(path)
    assert problem.message.startswith("cannot read the configuration file:")


def test_problem_and_error_values() -> None:
    problem = Problem("f.toml:3 lmtp.port", "bad")
    assert str(problem) == "f.toml:3 lmtp.port: bad"
    error = ConfigError([problem, Problem("env STALWART_X_Y", "worse")])
    assert str(error) == "f.toml:3 lmtp.port: bad\nenv STALWART_X_Y: worse"
    assert len(error.problems) == 2


def test_valid_config_has_no_problems(tmp_path: Path) -> None:
    assert check_config(write(tmp_path, FULL), {}) == []


# --- locating keys --------------------------------------------------------------------------


def test_locate_keys_scan() -> None:
    text = '''\
top = 1
[ server ]  # comment
data_dir = """
port = 99
[lmtp]
"""
'quoted key' = 2
a.b.c = 3
[lmtp]
port = 1
'''
    lines = locate_keys(text)
    assert lines[("top",)] == 1
    assert lines[("server",)] == 2
    assert lines[("server", "data_dir")] == 3
    assert ("server", "port") not in lines  # inside a multi-line string
    assert lines[("server", "quoted key")] == 7
    assert lines[("server", "a")] == 8 and lines[("server", "a", "b", "c")] == 8
    assert lines[("lmtp",)] == 9 and lines[("lmtp", "port")] == 10


# --- derived documentation ------------------------------------------------------------------


def test_committed_doc_matches_schema() -> None:
    doc = REPO / "docs" / "configuration.md"
    assert doc.is_file(), (
        "docs/configuration.md is missing: run python -m stalwart_py.config --markdown"
    )
    assert doc.read_text(encoding="utf-8") == render_markdown(), (
        "docs/configuration.md is stale: regenerate it with "
        "`python -m stalwart_py.config --markdown > docs/configuration.md`"
    )


def test_doc_mentions_every_key() -> None:
    doc = render_markdown()
    for key in SCHEMA:
        assert f"### {key.dotted}\n" in doc
        assert f"`{key.env_var}`" in doc


def test_main_markdown_example_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("STALWART_"):
            monkeypatch.delenv(name)
    assert config_docs.main(["--markdown"]) == 0
    assert capsys.readouterr().out == render_markdown()
    assert config_docs.main(["--example"]) == 0
    assert capsys.readouterr().out == render_example()
    good = write(tmp_path, "[lmtp]\nport = 2525\n", "good.toml")
    assert config_docs.main(["--check", str(good)]) == 0
    assert capsys.readouterr().out == ""
    bad = write(tmp_path, "[lmtp]\nport = -1\n", "bad.toml")
    assert config_docs.main(["--check", str(bad)]) == 1
    assert capsys.readouterr().out == f"{bad}:2 lmtp.port: must be a port number 0–65535, got -1\n"


def test_config_section_order_matches_schema() -> None:
    assert [f.name for f in dataclasses.fields(Config)] == list(SECTIONS)
