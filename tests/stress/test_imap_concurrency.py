"""Ten imaplib clients hammer one mailbox while LMTP delivers into it; every view must agree.

Each client picks random commands (APPEND, STORE by sequence number or UID, EXPUNGE, UID
EXPUNGE, MOVE by sequence number or UID, FETCH, NOOP) for a while. Clients differ in what they
ENABLE: plain IMAP4rev1 (``EXPUNGE n`` news, ``\\Recent``), QRESYNC (``VANISHED`` news and
``MODSEQ`` items, RFC 7162 §3.2.10) and IMAP4rev2 (RFC 9051). Every client keeps a running model
of the mailbox (sequence number -> UID, UID -> flags) built *only* from the untagged responses it
receives, in order: ``EXISTS`` (RFC 9051 §7.4.1), ``EXPUNGE`` (§7.5.1), ``VANISHED`` and
``FETCH`` (§7.5.2). It picks sequence numbers from that model, so a wrong model shows up as a
BAD for a sequence number the server thinks does not exist, or as a FETCH naming a UID at a
sequence number where the model holds another one.  The model also keeps the last ``FLAGS``
list (RFC 9051 §7.3.5) and refuses a FETCH showing a keyword that list did not announce.

When time is up and all writers have stopped, every client sends a final NOOP; then its model,
its own ``UID SEARCH ALL`` and ``FETCH 1:* (UID FLAGS)``, and the store all hold the same UIDs in
the same order with the same flags. That is the test of the unsolicited-news logic.

``STALWART_STRESS_SECONDS`` sets the slow variant's duration (default 60); the default suite runs
a 10-second variant.
"""

from __future__ import annotations

import imaplib
import os
import random
import re
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from tests.support import ServerThread, make_config

USER = "stress@example.org"
PASSWORD = "stress-secret"
CLIENTS = 10
SHORT_SECONDS = 10.0
SLOW_SECONDS = float(os.environ.get("STALWART_STRESS_SECONDS", "60"))
# The flags clients set; custom keywords are case-insensitive (RFC 9051 §2.3.2: IMAP shows the
# spelling first set, the store keeps them lower-cased), so every comparison below is on
# lower-cased flags.
FLAG_POOL = ("\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1", "$Work")
SYSTEM = {
    "\\seen": "$seen",
    "\\answered": "$answered",
    "\\flagged": "$flagged",
    "\\draft": "$draft",
    "\\deleted": "$deleted",
}
_SYSTEM_KW = frozenset(SYSTEM.values())
MODES = ("rev1", "rev1", "rev1", "rev1", "qresync", "qresync", "qresync", "rev2", "rev2", "rev2")
MIN_SIZE, MAX_SIZE = 8, 120  # steer the mailbox size between these

_FETCH = re.compile(rb"^(\d+) \((.*)\)$", re.S)
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def keyword(flag: str) -> str:
    """An IMAP flag as the store's keyword (RFC 8621 §4.1.1 mapping), lower-cased."""
    low = flag.lower()
    return SYSTEM.get(low, low)


def parse_uid_set(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a, b = int(lo), int(hi or lo)
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


class ModelError(AssertionError):
    """An untagged response that contradicts what the client was told before."""


@dataclass
class Model:
    """One client's picture of the selected mailbox, from untagged responses only."""

    uids: list[int | None] = field(default_factory=list)  # by sequence number - 1
    flags: dict[int, frozenset[str]] = field(default_factory=dict)  # keywords, lower-case
    seen_uids: set[int] = field(default_factory=set)  # every UID ever learned
    events: Counter[str] = field(default_factory=Counter)
    announced: set[str] = field(default_factory=set)  # keywords the last FLAGS listed

    def apply(self, typ: str, dat: Any) -> None:
        if isinstance(dat, tuple):  # a response with a literal: never sent for what we ask
            raise ModelError(f"unexpected literal in {typ} {dat!r}")
        data = bytes(dat)
        self.events[typ] += 1
        if typ == "FLAGS":
            # RFC 9051 §7.3.5: the flags applicable in the mailbox (replaces the last list).
            self.announced = {keyword(f) for f in data.strip(b"()").decode().split()}
            return
        if typ == "EXISTS":
            n = int(data)
            if n < len(self.uids):
                raise ModelError(f"EXISTS {n} shrinks the mailbox from {len(self.uids)}")
            self.uids.extend([None] * (n - len(self.uids)))
        elif typ == "EXPUNGE":
            n = int(data)
            if not 1 <= n <= len(self.uids):
                raise ModelError(f"EXPUNGE {n} with {len(self.uids)} messages")
            uid = self.uids.pop(n - 1)
            if uid is not None:
                self.flags.pop(uid, None)
        elif typ == "VANISHED":
            text = data.decode()
            if text.upper().startswith("(EARLIER)"):
                raise ModelError("VANISHED (EARLIER) outside SELECT/FETCH VANISHED")
            gone = set(parse_uid_set(text))
            unknown = gone - set(self.uids)
            if unknown & self.seen_uids:
                raise ModelError(f"VANISHED {text} repeats UIDs already gone")
            self.uids = [u for u in self.uids if u not in gone]
            for uid in gone:
                self.flags.pop(uid, None)
            # UIDs we have not learned yet are messages counted by EXISTS whose UID we have not
            # fetched (a VANISHED without EARLIER only names messages the client was told
            # exist, RFC 7162 §3.2.10): each removes one unknown slot where it fits by order.
            for uid in sorted(unknown):
                self._drop_unknown(uid, text)
        elif typ == "FETCH":
            m = _FETCH.match(data)
            if m is None:
                raise ModelError(f"unparsable FETCH {data!r}")
            seq = int(m[1])
            if not 1 <= seq <= len(self.uids):
                raise ModelError(f"FETCH for message {seq} of {len(self.uids)}")
            uid_m = _UID.search(m[2])
            known = self.uids[seq - 1]
            if uid_m is not None:
                uid = int(uid_m[1])
                if known is not None and known != uid:
                    raise ModelError(f"FETCH {seq} says UID {uid}, the model has {known}")
                self.uids[seq - 1] = uid
                self.seen_uids.add(uid)
            elif known is None:
                raise ModelError(f"FETCH {seq} without UID for a message of unknown UID")
            else:
                uid = known
            flags_m = _FLAGS.search(m[2])
            if flags_m is not None:
                flags = frozenset(
                    keyword(f) for f in flags_m[1].decode().split() if f.lower() != "\\recent"
                )
                # A keyword must have come in FLAGS before a FETCH shows it (RFC 3501 §7.2.6;
                # what imaptest reports as "keyword used without being in FLAGS").
                unknown = flags - _SYSTEM_KW
                if unknown - self.announced:
                    raise ModelError(f"FETCH {seq} shows {unknown - self.announced} not in FLAGS")
                self.flags[uid] = flags

    def _drop_unknown(self, uid: int, text: str) -> None:
        below = 0  # highest known UID before the slot
        for i, known in enumerate(self.uids):
            if known is None:
                above = next((u for u in self.uids[i:] if u is not None), None)
                if below < uid and (above is None or uid < above):
                    del self.uids[i]
                    return
            else:
                below = known
        raise ModelError(f"VANISHED {text}: UID {uid} fits no message of unknown UID")

    def known_uids(self) -> list[int]:
        return [u for u in self.uids if u is not None]

    def check_order(self) -> None:
        uids = self.uids
        if None in uids:
            raise ModelError("model still has unknown UIDs")
        known = self.known_uids()
        if known != sorted(set(known)):
            raise ModelError(f"UIDs not strictly ascending: {known}")


class RecordingIMAP(imaplib.IMAP4):
    """imaplib that also keeps every untagged response, in arrival order."""

    TRACKED = frozenset({"FLAGS", "EXISTS", "EXPUNGE", "VANISHED", "FETCH"})

    def __init__(self, host: str, port: int) -> None:
        self.stream: list[tuple[str, Any]] = []
        super().__init__(host, port, timeout=60)

    def _append_untagged(self, typ: str, dat: Any) -> None:
        if typ in self.TRACKED:
            self.stream.append((typ, dat))
        super()._append_untagged(typ, dat)  # type: ignore[misc]  # private in typeshed


@dataclass(frozen=True, slots=True)
class FinalView:
    name: str
    model_uids: list[int]
    model_flags: dict[int, frozenset[str]]
    search_uids: list[int]
    fetch_uids: list[int]
    fetch_flags: dict[int, frozenset[str]]
    ops: Counter[str]
    events: Counter[str]


class StressClient:
    def __init__(self, index: int, port: int, mode: str, deadline: float) -> None:
        self.name = f"client{index}-{mode}"
        self.rng = random.Random(f"stress-{index}")
        self.mode = mode
        self.deadline = deadline
        self.conn = RecordingIMAP("127.0.0.1", port)
        self.model = Model()
        self.ops: Counter[str] = Counter()
        self._appended = 0
        self.index = index

    # -- plumbing ----------------------------------------------------------------------------
    def drain(self) -> None:
        stream = self.conn.stream
        for typ, dat in stream:
            self.model.apply(typ, dat)
        stream.clear()
        self.conn.untagged_responses.clear()

    def run(self, name: str, result: tuple[str, list[Any]], allow_no: bool = False) -> None:
        """Apply the untagged responses of a finished command; BAD raised in imaplib already."""
        self.drain()
        status = result[0]
        if not (status == "OK" or (allow_no and status == "NO")):
            raise AssertionError(f"{self.name}: {name} -> {result!r}")
        self.ops[f"{name} {status}"] += 1

    def fill_unknown(self) -> None:
        """Learn the UIDs of messages announced by EXISTS (FETCH never renumbers)."""
        for _ in range(20):
            if None not in self.model.uids:
                return
            first = self.model.uids.index(None) + 1
            result = self.conn.fetch(f"{first}:*", "(UID FLAGS)")
            self.run("FETCH", result, allow_no=True)
            if result[0] == "NO":
                # Some of them were expunged meanwhile (RFC 2180 §4.1.2 lets FETCH fail with
                # [EXPUNGEISSUED]); NOOP brings the expunges.
                self.run("NOOP", self.conn.noop())
        raise AssertionError(f"{self.name}: UIDs still unknown after 20 FETCHes")

    # -- session -----------------------------------------------------------------------------
    def start(self) -> None:
        self.conn.login(USER, PASSWORD)
        if self.mode == "qresync":
            self.run("ENABLE", self.conn.enable("QRESYNC"))
        elif self.mode == "rev2":
            self.run("ENABLE", self.conn.enable("IMAP4rev2"))
        self.run("SELECT", self.conn.select("INBOX"))
        self.fill_unknown()

    def random_seq(self) -> int:
        return self.rng.randint(1, len(self.model.uids))

    def random_uid(self) -> int:
        known = self.model.known_uids()
        return self.rng.choice(known)

    def step(self) -> None:
        rng = self.rng
        size = len(self.model.uids)
        choices = ["append", "store", "uid_store", "fetch", "noop", "delete", "uid_expunge"]
        weights = [3.0, 4.0, 4.0, 1.5, 2.0, 1.0, 1.0]
        choices += ["move", "uid_move"]
        weights += [1.0, 1.0]
        if size < MIN_SIZE:
            weights[0] = 20.0
        if size > MAX_SIZE:
            weights[5] = weights[6] = weights[7] = weights[8] = 6.0
        op = rng.choices(choices, weights)[0]
        if size == 0 and op not in ("append", "noop"):
            op = "append"
        conn = self.conn
        if op == "append":
            flags = " ".join(rng.sample(FLAG_POOL, rng.randint(0, 2)))
            self._appended += 1
            body = (
                f"From: {self.name} <c{self.index}@example.org>\r\nTo: {USER}\r\n"
                f"Subject: append {self._appended} from {self.name}\r\n\r\nhello\r\n"
            )
            self.run("APPEND", conn.append("INBOX", f"({flags})", None, body.encode()))
        elif op in ("store", "uid_store"):
            mode = rng.choice(("+FLAGS", "-FLAGS", "FLAGS"))
            flags = "(" + " ".join(rng.sample(FLAG_POOL, rng.randint(1, 3))) + ")"
            if op == "store":
                self.run("STORE", conn.store(str(self.random_seq()), mode, flags), allow_no=True)
            else:
                uid = str(self.random_uid())
                self.run("UID STORE", conn.uid("STORE", uid, mode, flags), allow_no=True)
        elif op == "fetch":
            lo = self.random_seq()
            hi = min(len(self.model.uids), lo + rng.randint(0, 10))
            self.run("FETCH", conn.fetch(f"{lo}:{hi}", "(UID FLAGS)"), allow_no=True)
        elif op == "noop":
            self.run("NOOP", conn.noop())
        elif op == "delete":
            seq = self.random_seq()
            self.run("STORE", conn.store(str(seq), "+FLAGS", "(\\Deleted)"), allow_no=True)
            self.run("EXPUNGE", conn.expunge())
        elif op == "uid_expunge":
            uid = str(self.random_uid())
            self.run("UID STORE", conn.uid("STORE", uid, "+FLAGS", "(\\Deleted)"), allow_no=True)
            self.run("UID EXPUNGE", conn.uid("EXPUNGE", uid))
        elif op == "move":
            seq = self.random_seq()
            self.run("MOVE", conn._simple_command("MOVE", str(seq), "Archive"), allow_no=True)
        elif op == "uid_move":
            uid = str(self.random_uid())
            self.run("UID MOVE", conn.uid("MOVE", uid, "Archive"), allow_no=True)
        self.fill_unknown()

    def loop(self) -> None:
        while time.monotonic() < self.deadline:
            self.step()

    def final(self) -> FinalView:
        self.run("NOOP", self.conn.noop())
        self.fill_unknown()  # a final EXISTS may still name messages the model cannot know
        self.model.check_order()
        model_uids = self.model.known_uids()
        model_flags = dict(self.model.flags)
        # The client's own fresh look, parsed separately from the model.
        self.conn.stream.clear()
        self.conn.untagged_responses.clear()
        status, data = self.conn.uid("SEARCH", "ALL")
        assert status == "OK", data
        if self.mode == "rev2":  # IMAP4rev2 answers with ESEARCH (RFC 9051 §7.3.4)
            esearch = self.conn.untagged_responses.pop("ESEARCH", [])
            assert len(esearch) == 1, esearch
            line = esearch[0]
            assert isinstance(line, bytes), esearch
            m = re.search(rb" ALL ([\d:,]+)", line)
            search_uids = parse_uid_set(m[1].decode()) if m else []
        else:
            search_uids = [int(x) for x in (data[0] or b"").split()]
        fetch_uids: list[int] = []
        fetch_flags: dict[int, frozenset[str]] = {}
        if model_uids:
            fresh = Model(uids=[None] * len(model_uids), announced=set(self.model.announced))
            status, _ = self.conn.fetch("1:*", "(UID FLAGS)")
            assert status == "OK"
            for typ, dat in self.conn.stream:
                fresh.apply(typ, dat)
            fetch_uids, fetch_flags = fresh.known_uids(), fresh.flags
        self.conn.stream.clear()
        self.conn.logout()
        return FinalView(
            self.name,
            model_uids,
            model_flags,
            search_uids,
            fetch_uids,
            fetch_flags,
            self.ops,
            self.model.events,
        )


def lmtp_writer(port: int, deadline: float, delivered: list[int]) -> None:
    count = 0
    with smtplib.LMTP("127.0.0.1", port, timeout=60) as lmtp:
        lmtp.ehlo("stress.test")
        while time.monotonic() < deadline:
            count += 1
            message = (
                f"From: Remote <remote@remote.test>\r\nTo: {USER}\r\n"
                f"Subject: delivery {count}\r\nMessage-ID: <d{count}@remote.test>\r\n\r\n"
                f"delivered body {count}\r\n"
            )
            lmtp.sendmail("remote@remote.test", [USER], message.encode())
            time.sleep(0.05)
    delivered.append(count)


@pytest.fixture
def stress_server(tmp_path: Path) -> Iterator[ServerThread]:
    cfg = make_config(tmp_path / "data", {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true"})
    srv = ServerThread(cfg).start()
    try:
        Directory(srv.store, passwords_for(srv.cfg)).create_account(USER, PASSWORD)
        yield srv
    finally:
        srv.stop()


def store_view(srv: ServerThread) -> tuple[list[int], dict[int, frozenset[str]]]:
    store = srv.store
    principal = store.principal_by_address(USER)
    assert principal is not None
    inbox = store.mailbox_by_role(principal.id, "inbox")
    assert inbox is not None
    uids: list[int] = []
    flags: dict[int, frozenset[str]] = {}
    for uid, eid in store.mailbox_uids(principal.id, inbox.id):
        mail = store.email(principal.id, eid)
        assert mail is not None
        uids.append(uid)
        flags[uid] = frozenset(k.lower() for k in mail.keywords)
    return uids, flags


def run_stress(srv: ServerThread, seconds: float) -> None:
    assert srv.server is not None
    port = srv.server.ports["imap"]
    deadline = time.monotonic() + seconds
    clients = [StressClient(i, port, MODES[i % len(MODES)], deadline) for i in range(CLIENTS)]
    quiet = threading.Barrier(CLIENTS + 1, timeout=seconds + 120)
    errors: list[str] = []
    finals: list[FinalView] = []
    delivered: list[int] = []

    def client_main(client: StressClient) -> None:
        try:
            client.start()
            client.loop()
            quiet.wait()  # every writer has stopped: nothing changes from here on
            finals.append(client.final())
        except BaseException as exc:
            errors.append(f"{client.name}: {type(exc).__name__}: {exc}")
            quiet.abort()

    threads = [threading.Thread(target=client_main, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    try:
        lmtp_writer(srv.lmtp_port, deadline, delivered)
        quiet.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(seconds + 180)
    assert not errors, "\n".join(errors)
    assert len(finals) == CLIENTS

    store_uids, store_flags = store_view(srv)
    for view in finals:
        assert view.model_uids == store_uids, f"{view.name}: model UIDs differ from the store"
        assert view.model_flags == store_flags, f"{view.name}: model flags differ from the store"
        assert view.search_uids == store_uids, f"{view.name}: UID SEARCH ALL differs"
        assert view.fetch_uids == store_uids, f"{view.name}: FETCH 1:* UIDs differ"
        assert view.fetch_flags == store_flags, f"{view.name}: FETCH 1:* FLAGS differ"

    # The run really exercised what it claims to.
    ops: Counter[str] = sum((v.ops for v in finals), Counter())
    events: Counter[str] = sum((v.events for v in finals), Counter())
    assert delivered and delivered[0] > 0
    for name in ("APPEND OK", "STORE OK", "UID STORE OK", "EXPUNGE OK", "UID EXPUNGE OK"):
        assert ops[name] > 0, (name, ops)
    assert ops["MOVE OK"] + ops["UID MOVE OK"] > 0, ops
    for kind in ("EXISTS", "EXPUNGE", "VANISHED", "FETCH"):
        assert events[kind] > 0, (kind, events)
    principal = srv.store.principal_by_address(USER)
    archive = srv.store.mailbox_by_role(principal.id, "archive")
    assert archive is not None and archive.total > 0
    print(
        f"\n{sum(ops.values())} commands in {seconds:.0f} s from {CLIENTS} clients, "
        f"{delivered[0]} LMTP deliveries, {len(store_uids)} messages left; ops {dict(ops)}; "
        f"untagged {dict(events)}"
    )


def test_imap_concurrency_short(stress_server: ServerThread) -> None:
    run_stress(stress_server, SHORT_SECONDS)


@pytest.mark.slow
def test_imap_concurrency_long(stress_server: ServerThread) -> None:
    run_stress(stress_server, SLOW_SECONDS)
