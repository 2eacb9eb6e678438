"""Coverage-guided fuzz target for the MIME parser (atheris).

    .venv/bin/python fuzz/fuzz_mime.py -atheris_runs=20000 [corpus_dir ...]

Seed it with the shared MIME corpus by copying it to a scratch directory first (libFuzzer
writes new inputs into the first corpus directory, so never point it at ../shared directly):

    mkdir -p /tmp/mime-seeds && cp ../shared/corpus/mime/*/*.eml /tmp/mime-seeds/
    .venv/bin/python fuzz/fuzz_mime.py -atheris_runs=200000 -max_len=8192 /tmp/mime-seeds

Checks: parse never raises (the strict entry point, so internal errors are not masked by the
fallback), offsets stay inside their buffers, the wire form round-trips exactly through msgpack,
and every part (embedded messages included) can be transfer- and charset-decoded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris
import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from protocols.mime import (
        MimePart,
        ParsedMessage,
        decode_body,
        inner_buffer,
        parse_message_strict,
        part_text,
    )


def _check(buf: bytes, msg: ParsedMessage, depth: int = 0) -> None:
    assert msg.size == msg.root.body_end - msg.root.header_start
    for part in msg.parts():
        _check_part(buf, part)
        if part.message is not None:
            _check(inner_buffer(buf, part), part.message, depth + 1)


def _check_part(buf: bytes, part: MimePart) -> None:
    assert 0 <= part.header_start <= part.header_end == part.body_start <= part.body_end
    assert part.body_end <= len(buf)
    for child in part.parts:
        assert part.body_start <= child.header_start and child.body_end <= part.body_end
    data = decode_body(buf, part)
    if not part.is_multipart:
        assert len(data) == part.decoded_size, (len(data), part.decoded_size)
    part_text(buf, part)


def test_one_input(data: bytes) -> None:
    msg = parse_message_strict(data)
    assert msg.size == len(data)
    _check(data, msg)
    wire = msgpack.unpackb(msgpack.packb(msg.to_wire(), use_bin_type=True), raw=False)
    assert ParsedMessage.from_wire(wire) == msg


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
