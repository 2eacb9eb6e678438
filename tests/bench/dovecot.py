"""Dovecot as the peer server: install (Debian packages), a throwaway config, start, stop.

Everything lives in one temp dir: the config, ``base_dir`` (sockets, master.pid), ``state_dir``,
logs, the passwd-file and the Maildirs. Dovecot's master runs as root (the bench runs as root
to install it); mail is owned by the unprivileged system user ``benchmail``. LMTP listens on
127.0.0.1 on a free port with no authentication (RFC 2033 has none). With ``imap=True`` IMAP
listens on another free port and accepts plaintext LOGIN / AUTHENTICATE PLAIN over the
unencrypted loopback connection (the passwd-file passdb holds ``{PLAIN}`` passwords).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.procs import (
    BenchError,
    TreeRss,
    free_port,
    stop_process,
    tree_peak_rss,
    wait_lmtp_ready,
)
from tests.bench.target import ManagedServer

PACKAGES = ("dovecot-core", "dovecot-lmtpd", "dovecot-imapd")
FTS_PACKAGE = "dovecot-fts-xapian"
MAIL_USER = "benchmail"
_SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True, slots=True)
class DovecotAvailability:
    """Whether Dovecot (and the Xapian FTS plugin) can be benchmarked here, and why not."""

    available: bool
    fts_xapian: bool
    version: str
    reason: str


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (f"{d}/{name}" for d in _SBIN if os.access(f"{d}/{name}", os.X_OK)), None
    )


def _fts_plugin_installed() -> bool:
    return any(Path("/usr/lib/dovecot/modules").glob("lib*fts_xapian_plugin.so"))


def _apt_install(packages: tuple[str, ...], log: list[str]) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    for attempt in range(2):
        if attempt == 1:
            log.append("apt-get install failed; running apt-get update and retrying")
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode == 0:
            return True
        log.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?")
    return False


def ensure_dovecot(want_fts: bool = True, install: bool = True) -> DovecotAvailability:
    """Install the Debian packages when missing (as root, with apt); report what is usable."""
    notes: list[str] = []
    can_install = install and os.geteuid() == 0 and _which("apt-get") is not None
    # dovecot-core alone has no lmtp or imap daemon: all of PACKAGES must be there.
    daemons = all(Path(f"/usr/lib/dovecot/{d}").exists() for d in ("lmtp", "imap"))
    if _which("dovecot") is None or not daemons:
        if not can_install:
            return DovecotAvailability(
                False, False, "", "dovecot is not installed and cannot be (need root + apt-get)"
            )
        print(f"installing {' '.join(PACKAGES)} with apt-get ...", flush=True)
        if not _apt_install(PACKAGES, notes):
            return DovecotAvailability(
                False, False, "", "apt-get install failed: " + "; ".join(notes)
            )
    dovecot = _which("dovecot")
    if dovecot is None:
        return DovecotAvailability(False, False, "", "dovecot binary not found after install")
    version = subprocess.run(
        [dovecot, "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    fts = _fts_plugin_installed()
    if want_fts and not fts and can_install:
        print(f"installing {FTS_PACKAGE} with apt-get ...", flush=True)
        fts = _apt_install((FTS_PACKAGE,), notes) and _fts_plugin_installed()
    reason = "" if fts or not want_fts else f"{FTS_PACKAGE} unavailable: " + "; ".join(notes)
    return DovecotAvailability(True, fts, version, reason)


def ensure_mail_user() -> tuple[int, int]:
    """uid and gid of the unprivileged ``benchmail`` system user, creating it if needed."""
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_USER,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        entry = pwd.getpwnam(MAIL_USER)
    return entry.pw_uid, entry.pw_gid


_CONFIG = """\
# Throwaway Dovecot config written by tests/bench/dovecot.py.
instance_name = bench-{port}
base_dir = {root}/run
state_dir = {root}/state
protocols = lmtp{protocols}
listen = 127.0.0.1
log_path = {root}/dovecot.log
ssl = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_plugins = $mail_plugins{plugins}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}

service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
{imap}{fts}
"""

_IMAP = """
disable_plaintext_auth = no
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  # The IMAP workload opens 10 clients and an IDLE watcher for one user from 127.0.0.1.
  mail_max_userip_connections = 100
}}
"""

_FTS = """
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}
service indexer-worker {
  vsz_limit = 2G
}
"""


class DovecotServer(ManagedServer):
    """A running throwaway Dovecot with LMTP on 127.0.0.1; use as a context manager."""

    host = "127.0.0.1"

    def __init__(self, recipients: tuple[str, ...], *, fts: bool, imap: bool = False) -> None:
        self.recipients = recipients
        self.fts = fts
        self.imap = imap
        self.name = "dovecot+fts" if fts else "dovecot"
        self.lmtp_port = free_port()
        self.imap_port = free_port() if imap else 0
        self.root = Path(tempfile.mkdtemp(prefix="bench-dovecot-"))
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._rss: TreeRss | None = None
        self.count_note = ""

    def _home(self, recipient: str) -> Path:
        return self.root / "mail" / recipient.split("@")[0]

    def _write_config(self) -> None:
        uid, gid = ensure_mail_user()
        self.root.chmod(0o755)
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", uid, gid)
        lines = []
        for rcpt in self.recipients:
            home = self._home(rcpt)
            home.mkdir()
            os.chown(home, uid, gid)
            lines.append(f"{rcpt}:{{PLAIN}}secret:{uid}:{gid}::{home}::")
        (self.root / "users").write_text("\n".join(lines) + "\n")
        self.config.write_text(
            _CONFIG.format(
                root=self.root,
                port=self.lmtp_port,
                uid=uid,
                gid=gid,
                plugins=" fts fts_xapian" if self.fts else "",
                fts=_FTS if self.fts else "",
                protocols=" imap" if self.imap else "",
                imap=_IMAP.format(port=self.imap_port) if self.imap else "",
            )
        )

    def start(self) -> None:
        self._write_config()
        dovecot = _which("dovecot")
        if dovecot is None:
            raise BenchError("dovecot is not installed")
        check = subprocess.run(
            [dovecot, "-c", str(self.config), "-n"], capture_output=True, text=True, timeout=60
        )
        if check.returncode != 0:
            raise BenchError(f"dovecot rejected the config:\n{check.stderr}")
        with open(self.root / "master.out", "wb") as out:
            self._proc = subprocess.Popen(
                [dovecot, "-F", "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_lmtp_ready(self.host, self.lmtp_port, self._proc, 60, self.log)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def peak_rss(self) -> TreeRss | None:
        """Summed VmHWM of the master and every live Dovecot child (lmtp, auth, indexer...)."""
        if self.pid is None:
            return None
        self._rss = tree_peak_rss(self.pid)
        return self._rss

    def wait_indexed(self, timeout: float = 600.0) -> float | None:
        """With FTS: index whatever the indexer has not done yet; return the seconds it took.

        ``doveadm index`` indexes synchronously, so when it returns for every user the FTS
        index has caught up with the deliveries.
        """
        if not self.fts:
            return None
        doveadm = _which("doveadm")
        if doveadm is None:
            raise BenchError("doveadm not found")
        start = time.monotonic()
        for rcpt in self.recipients:
            done = subprocess.run(
                [doveadm, "-c", str(self.config), "index", "-u", rcpt, "INBOX"],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if done.returncode != 0:
                raise BenchError(f"doveadm index -u {rcpt} failed: {done.stderr.strip()}")
        return time.monotonic() - start

    def count_messages(self) -> int:
        """Messages delivered: files in every user's Maildir ``new/`` (and ``cur/``)."""
        total = 0
        for rcpt in self.recipients:
            maildir = self._home(rcpt) / "Maildir"
            for sub in ("new", "cur"):
                folder = maildir / sub
                if folder.is_dir():
                    total += sum(1 for _ in folder.iterdir())
        return total

    def stop(self) -> None:
        if self._proc is None:
            return
        doveadm = _which("doveadm")
        if doveadm is not None and self._proc.poll() is None:
            subprocess.run(
                [doveadm, "-c", str(self.config), "stop"], capture_output=True, timeout=60
            )
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        stop_process(self._proc)
        self._proc = None
