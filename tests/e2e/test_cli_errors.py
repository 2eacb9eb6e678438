"""The administration commands as a newcomer meets them: mistakes, sizes, the data directory.

User-visible rules checked here (issue 8, "a newcomer's first hour", item 3):
- bad input is answered with one human sentence on stderr and a non-zero exit status, never a
  traceback and never an internal error name (``already_exists:``);
- a refused command changes nothing (``account create not-an-email`` creates no domain);
- sizes are read and shown with binary units (``2G``, ``500M``, ``1.5G``);
- every administration command says on stderr which data directory it uses, and the read-only
  ones refuse to create one where there is none;
- the command line starts without importing the server (trio, the protocols, the index).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli_support import account_rows, cli, ok, write_config
from tests.support import FAST_AUTH

INTERNAL_NAME = re.compile(r"\b(?:already_exists|not_found|in_use|invalid|has_children)\b")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stalwart.toml", tmp_path / "data")


def refused(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The one-line message of a refused command (exit ``status``, nothing on stdout)."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = [
        line for line in result.stderr.splitlines() if not line.startswith("stalwart-py: using")
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stalwart-py: "), lines
    assert not INTERNAL_NAME.search(lines[0]), lines[0]
    return lines[0]


def test_a_bad_size_is_a_usage_error_that_names_it(config: Path) -> None:
    """`account quota X 5X` and `--quota lots`: exit 2 with the value and examples, no traceback."""
    c = ("--config", str(config))
    ok("account", "create", "alice@example.org", "--password", "pw", *c)
    for args, value in (
        (("account", "quota", "alice@example.org", "5X"), "5X"),
        (("account", "create", "bob@example.org", "--password", "pw", "--quota", "lots"), "lots"),
        (("account", "quota", "alice@example.org", "1.0000001K"), "1.0000001K"),
        (("account", "quota", "alice@example.org", "99999999T"), "99999999T"),
    ):
        result = cli(*args, *c)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr, result.stderr
        assert value in result.stderr and "500M" in result.stderr, result.stderr
    assert set(account_rows(ok("account", "list", *c))) == {"alice@example.org"}


def test_account_create_refuses_a_non_address_and_creates_nothing(config: Path) -> None:
    """A name that is not name@domain is refused before anything is written: no stray domain."""
    c = ("--config", str(config))
    ok("domain", "create", "example.org", *c)
    for bad in ("not-an-email", "@example.org", "alice@", "al ice@example.org", "a@b@c d"):
        message = refused(cli("account", "create", bad, "--password", "pw", *c))
        assert "is not an email address" in message and repr(bad) in message, message
        message = refused(cli("group", "create", bad, *c))
        assert "is not an email address" in message, message
    assert ok("domain", "list", *c).splitlines() == ["example.org"]
    assert account_rows(ok("account", "list", *c)) == {}


def test_errors_are_human_sentences_naming_what_is_wrong(config: Path) -> None:
    """Each refusal is one sentence naming the object, exit status 1, and changes nothing."""
    c = ("--config", str(config))
    ok("account", "create", "alice@example.org", "--password", "pw", *c)
    cases = [
        (("domain", "create", "example.org"), "the domain example.org already exists"),
        (("account", "create", "alice@example.org", "--password", "x"), "already exists"),
        (("account", "delete", "ghost@example.org"), "ghost@example.org"),
        (("account", "passwd", "ghost@example.org", "--password", "x"), "ghost@example.org"),
        (("account", "quota", "ghost@example.org", "1G"), "ghost@example.org"),
        (("alias", "add", "al@elsewhere.test", "alice@example.org"), "domain elsewhere.test"),
        (("alias", "add", "al@example.org", "ghost@example.org"), "ghost@example.org"),
        (("alias", "add", "alice@example.org", "alice@example.org"), "already"),
        (("alias", "remove", "al@example.org"), "al@example.org"),
        (("alias", "remove", "alice@example.org"), "primary address"),
        (("domain", "delete", "example.org"), "still has addresses"),
        (("domain", "delete", "missing.test"), "missing.test"),
        (("domain", "catch-all", "missing.test", "alice@example.org"), "missing.test"),
        (("domain", "catch-all", "example.org", "ghost@example.org"), "ghost@example.org"),
        (("domain", "create", "new.test", "--catch-all", "ghost@new.test"), "ghost@new.test"),
        (("domain", "create", "bad domain"), "not a valid domain name"),
        (("group", "create", "team@example.org", "-m", "ghost@example.org"), "ghost@example.org"),
        (("group", "members", "alice@example.org", "-m", "alice@example.org"), "not a group"),
        (("group", "members", "team@example.org"), "team@example.org"),
        (("account", "create", "bob@example.org", "--password", ""), "password"),
    ]
    for args, expected in cases:
        message = refused(cli(*args, *c))
        assert expected in message, (args, message)
    assert ok("domain", "list", *c).splitlines() == ["example.org"]
    rows = account_rows(ok("account", "list", *c))
    assert set(rows) == {"alice@example.org"} and rows["alice@example.org"].aliases == ()


def test_sizes_are_shown_and_read_with_binary_units(config: Path) -> None:
    """Quotas take 2G, 500M, 1.5G (K = 1024) and `account list` shows them the same way."""
    c = ("--config", str(config))
    ok("account", "create", "alice@example.org", "--password", "pw", "--quota", "2G", *c)
    ok("account", "create", "bob@example.org", "--password", "pw", *c)
    rows = account_rows(ok("account", "list", *c))
    assert (rows["alice@example.org"].quota, rows["alice@example.org"].used) == ("2G", "0B")
    assert rows["bob@example.org"].quota == "-"
    out = ok("account", "quota", "alice@example.org", "1.5G", *c)
    assert out == "quota of alice@example.org set to 1.5G\n"
    assert account_rows(ok("account", "list", *c))["alice@example.org"].quota == "1.5G"
    assert ok("account", "quota", "alice@example.org", "500M", *c).endswith(" 500M\n")
    assert ok("account", "quota", "alice@example.org", "0", *c).endswith(" unlimited\n")
    assert account_rows(ok("account", "list", *c))["alice@example.org"].quota == "-"


def test_read_commands_refuse_to_create_a_data_directory(tmp_path: Path) -> None:
    """Run elsewhere, `account list` says where it looked and how to point it at the data; it
    leaves no empty ./data behind.  A writing command names the data directory it creates."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("account", "list"), ("domain", "list")):
        message = refused(cli(*args, cwd=elsewhere, env=FAST_AUTH))
        assert str(elsewhere / "data") in message and "--data-dir" in message, message
    assert list(elsewhere.iterdir()) == []

    data = tmp_path / "mail-data"
    made = cli("domain", "create", "example.org", "--data-dir", str(data), cwd=elsewhere)
    assert (made.returncode, made.stdout) == (0, "created domain example.org\n"), made
    assert f"new data directory {data}" in made.stderr, made.stderr
    assert list(elsewhere.iterdir()) == []
    listed = cli("domain", "list", "--data-dir", str(data), cwd=elsewhere)
    assert (listed.returncode, listed.stdout) == (0, "example.org\n"), listed
    assert f"using the data directory {data}" in listed.stderr, listed.stderr
    assert "new data directory" not in listed.stderr


def test_no_command_answers_bad_input_with_a_traceback(config: Path, tmp_path: Path) -> None:
    """Every subcommand with bad arguments, paths and values: a message and a non-zero status."""
    c = ("--config", str(config))
    ok("account", "create", "alice@example.org", "--password", "pw", *c)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    bad = [
        ("account",),
        ("account", "create"),
        ("account", "create", "bob@example.org"),
        ("account", "create", "", "--password", "x"),
        ("account", "quota", "alice@example.org", "--", "-5"),
        ("account", "quota", "alice@example.org", ""),
        ("account", "list", "--config", str(tmp_path / "missing.toml")),
        ("account", "list", "--config", str(tmp_path)),
        ("account", "list", "--data-dir", str(a_file)),
        ("account", "create", "x@example.org", "--password", "x", "--data-dir", str(a_file)),
        ("account", "list", "--data-dir", ""),
        ("alias", "add", "nonsense", "alice@example.org"),
        ("alias", "add", "", ""),
        ("domain", "create", ""),
        ("domain", "create", "x" * 300 + ".test"),
        ("domain", "catch-all", "example.org", "nonsense"),
        ("group", "create", "list@example.org", "--kind", "party"),
        ("group", "members", "", "-m", ""),
        ("index", "rebuild", "--config", str(tmp_path / "missing.toml")),
        ("config", "check", str(tmp_path / "missing.toml")),
        ("config", "check", str(tmp_path)),
        ("serve", "--config", str(tmp_path / "missing.toml")),
        ("no-such-command",),
    ]
    for args in bad:
        full = (
            args if "--config" in args or args[0] in ("config", "no-such-command") else (*args, *c)
        )
        result = cli(*full)
        assert result.returncode != 0, (args, result)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stderr.strip(), args
    assert ok("domain", "list", *c).splitlines() == ["example.org"]


def test_the_command_line_does_not_import_the_server(tmp_path: Path) -> None:
    """`--help` and `account list` load neither trio, the protocols nor the full-text index
    (they took 1.2-1.8 s to start when the CLI imported the whole server)."""
    ok("domain", "create", "example.org", "--data-dir", str(tmp_path / "data"))
    probe = (
        "import sys\n"
        "from stalwart_py.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('trio', 'protocols', 'tantivy', 'whoosh', 'argon2', 'store')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    for args, allowed in (
        (["--help"], []),
        (["account", "--help"], []),
        (["account", "list", "--data-dir", str(tmp_path / "data")], ["store"]),
        (["domain", "list", "--data-dir", str(tmp_path / "data")], ["store"]),
    ):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert result.stdout.splitlines()[-1] == repr(allowed), (args, result.stdout)
