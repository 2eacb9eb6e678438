"""Deterministic generator of realistic ~4 KB English mail messages for the benchmarks.

Every message is a plain RFC 5322 message with the headers a delivered message carries
(Received, From, To, Subject, Date, Message-ID, MIME-Version, Content-Type) and a body of
English-like prose: words are drawn from a vocabulary with a Zipf-like (1/rank) frequency
distribution, so that a full-text indexer sees a realistic mix of very common and rare terms.

The same ``(seed, index)`` always gives byte-identical output, on any machine, so runs can be
compared with each other and every message has a distinct Message-ID.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

DEFAULT_SIZE = 4096
DEFAULT_SEED = 20240601

# Roughly ordered by frequency in English prose and business mail; the Zipf weights below
# make the head frequent and the tail rare.
_VOCABULARY = """
the of and to a in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there one all we their been has would when who will more
if no out so said what up its about into than them can only other new some could time these
two may then do first any my now such like our over man me even most made after also did
many before must through back years where much your way well down should because each just
those people how too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us great old year
off come since against go came right used take three meeting project report team week
customer order invoice payment account update schedule review budget quarter client contract
proposal delivery shipment release version server network database backup security password
policy office holiday travel flight hotel conference agenda minutes draft document attached
please thanks regards question answer issue problem solution support ticket request change
approval deadline tomorrow yesterday morning afternoon evening monday tuesday wednesday
thursday friday weekend january february march april june july august september october
november december summer winter spring autumn coffee lunch dinner garden kitchen library
museum river mountain forest village harbour bridge station market school hospital church
castle island valley ocean weather rain snow sunshine cloud storm wind temperature forecast
music concert theatre painting novel poetry history science chemistry physics biology
mathematics economics philosophy language grammar dictionary translation chapter paragraph
sentence letter envelope package parcel courier warehouse inventory supplier manufacturer
engineer architect designer developer manager director assistant colleague neighbour friend
family brother sister mother father daughter son cousin uncle aunt grandmother grandfather
bicycle automobile railway airport ticket passport luggage umbrella jacket sweater shoes
apple orange banana strawberry chocolate cheese bread butter tomato potato carrot onion
pepper garlic recipe oven kettle teapot blanket pillow curtain window doorway staircase
ceiling basement attic chimney fireplace lantern candle mirror cupboard drawer shelf
quickly slowly carefully happily quietly loudly suddenly finally certainly probably perhaps
although however therefore meanwhile otherwise nevertheless furthermore consequently
important necessary possible available interesting different difficult beautiful wonderful
terrible excellent reasonable comfortable expensive affordable ancient modern curious
generous patient honest brave clever gentle careful anxious cheerful grateful confident
discuss arrange confirm cancel postpone deliver receive prepare organise consider suggest
recommend explain describe remember forget imagine believe understand appreciate
investigate negotiate calculate estimate measure improve reduce increase maintain
replace repair install configure migrate deploy monitor analyse publish archive
xylophone quagmire zephyr labyrinth juxtaposition serendipity ephemeral mellifluous
quintessential perspicacious obfuscate sesquipedalian onomatopoeia defenestration
""".split()

_FIRST_NAMES = (
    "Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy "
    "Rupert Sybil Trent Victor Walter Yvonne Zoe Amir Beatriz Chen Dmitri Elena Fatima"
).split()
_LAST_NAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
    "Evans Walker White Roberts Green Hall Wood Jackson Clarke Novak Okafor Tanaka Silva"
).split()
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk")
_SUBJECT_PREFIXES = ("", "", "", "Re: ", "Fwd: ", "Re: Re: ")

# Weight of the word at rank r is 1/(r+1): a Zipf distribution with exponent 1.
_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(_VOCABULARY))]
_CUM_WEIGHTS: list[float] = []
_total = 0.0
for _w in _WEIGHTS:
    _total += _w
    _CUM_WEIGHTS.append(_total)

_EPOCH = datetime(2024, 1, 1, 8, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BenchMessage:
    """One generated message: its envelope sender, Message-ID and raw bytes (CRLF lines)."""

    sender: str
    message_id: str
    data: bytes


def _words(rng: random.Random, count: int) -> list[str]:
    return rng.choices(_VOCABULARY, cum_weights=_CUM_WEIGHTS, k=count)


def _sentence(rng: random.Random) -> str:
    words = _words(rng, rng.randint(6, 18))
    text = " ".join(words)
    punctuation = rng.choice((".", ".", ".", ".", "?", "!"))
    return text[0].upper() + text[1:] + punctuation


def _wrap(text: str, width: int = 72) -> list[str]:
    """Greedy word wrap; lines stay well below the RFC 5322 §2.1.1 limit of 78 characters."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def _person(rng: random.Random) -> tuple[str, str]:
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    address = f"{first.lower()}.{last.lower()}@{rng.choice(_DOMAINS)}"
    return f"{first} {last}", address


def make_message(
    index: int, recipient: str, *, seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE
) -> BenchMessage:
    """Build message number ``index`` for ``recipient``: exactly ``size`` bytes, CRLF lines.

    The body is cut at a line boundary and padded with a short signature line so the total
    length is exact; a line never exceeds 78 characters.
    """
    rng = random.Random(f"{seed}:{index}")
    name, sender = _person(rng)
    when = _EPOCH + timedelta(seconds=index * 37 + rng.randint(0, 30))
    message_id = f"<{seed:x}.{index:08d}.{rng.getrandbits(48):012x}@{sender.split('@')[1]}>"
    subject_words = _words(rng, rng.randint(3, 8))
    subject = rng.choice(_SUBJECT_PREFIXES) + " ".join(subject_words).capitalize()
    headers = [
        f"Received: from mx{rng.randint(1, 9)}.{sender.split('@')[1]} "
        f"(mx.{sender.split('@')[1]} [192.0.2.{rng.randint(1, 254)}])",
        f"\tby bench.local with ESMTPS id {rng.getrandbits(40):010x}",
        f"\tfor <{recipient}>; {format_datetime(when)}",
        f"From: {name} <{sender}>",
        f"To: <{recipient}>",
        f"Subject: {subject}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
    ]
    head = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
    signature = f"-- \r\n{name}\r\n".encode("ascii")
    budget = size - len(head) - len(signature)
    if budget < 0:
        raise ValueError(f"size {size} is too small for the headers of message {index}")

    body_lines: list[str] = [f"Dear {recipient.split('@')[0]},", ""]
    used = sum(len(line) + 2 for line in body_lines)
    while used < budget:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(2, 6)))
        for line in [*_wrap(paragraph), ""]:
            body_lines.append(line)
            used += len(line) + 2
    body = ("\r\n".join(body_lines) + "\r\n").encode("ascii")
    # Cut to the budget at a line boundary, then fill the gap with one more (partial) line.
    body = body[:budget]
    body = body[: body.rfind(b"\r\n") + 2]
    filler = budget - len(body)
    if filler == 1:
        body = body[:-2] + b" \r\n"
    elif filler >= 2:
        tail = _sentence(rng).encode("ascii")
        while len(tail) < filler - 2:
            tail += b" " + _sentence(rng).encode("ascii")
        body += tail[: filler - 2].rstrip(b" ").ljust(filler - 2, b".") + b"\r\n"
    data = head + body + signature
    return BenchMessage(sender=sender, message_id=message_id, data=data)
