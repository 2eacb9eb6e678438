"""The passwords generated on first start, kept in an owner-only file until they are used.

``<data_dir>/initial-passwords`` holds one line per generated account (address, password, role,
tab-separated) under a comment saying what the file is.  It is written before the accounts are
created, so a start that fails half-way loses no password, and it is always written whole to a
temporary file created with mode 0600 (``O_CREAT | O_EXCL``: never readable by others, not even
briefly), fsynced and renamed over the old one.

An account's line is removed when that account first logs in successfully over any protocol (the
server's shared authenticator reports it), when its password is changed or it is deleted with the
command line; the file goes with its last line.  While it exists, every start says where it is.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "initial-passwords"

_HEADER = (
    "# Passwords stalwart-py generated on first start (address, password, role).\n"
    "# Readable only by you. A line is removed once its account has logged in (IMAP or JMAP),\n"
    "# or when its password is changed with `stalwart-py account passwd`.\n"
)


@dataclass(frozen=True, slots=True)
class Credential:
    role: str
    email: str
    password: str


class InitialPasswords:
    """The file in one data directory; safe to use from several threads of one process."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        self._lock = threading.Lock()

    def load(self) -> dict[str, Credential]:
        """Address -> credential; empty when there is no file."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        found: dict[str, Credential] = {}
        for line in text.splitlines():
            fields = line.split("\t")
            if line.startswith("#") or len(fields) != 3:
                continue
            email, password, role = fields
            found[email] = Credential(role, email, password)
        return found

    def save(self, credentials: Iterable[Credential]) -> None:
        """Replaces the file with these credentials (none: removes it)."""
        with self._lock:
            self._write(list(credentials))

    def forget(self, email: str) -> bool:
        """Drops ``email``'s line; True if there was one."""
        with self._lock:
            kept = self.load()
            if kept.pop(email, None) is None:
                return False
            self._write(list(kept.values()))
            return True

    def _write(self, credentials: list[Credential]) -> None:
        if not credentials:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        text = _HEADER + "".join(f"{c.email}\t{c.password}\t{c.role}\n" for c in credentials)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # left over by a crash of this very pid number
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                fd = -1
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
