from protocols.mime import parse_message
from stalwart_py.delivery import parse_bounded

MULTIPART = (
    b"Subject: big\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n"
)


def test_small_messages_are_parsed_in_full() -> None:
    assert parse_bounded(MULTIPART, 10_000) == parse_message(MULTIPART)


def test_messages_over_the_limit_keep_headers_and_one_opaque_body() -> None:
    parsed = parse_bounded(MULTIPART, 40)
    assert parsed.subject == "big"
    assert parsed.size == len(MULTIPART)
    assert parsed.root.parts == ()
    assert (parsed.root.type, parsed.root.subtype) == ("application", "octet-stream")
    assert parsed.root.body_end == len(MULTIPART)
    assert MULTIPART[parsed.root.body_start :].startswith(b"--XX")
