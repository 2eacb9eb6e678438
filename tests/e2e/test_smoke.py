import smtplib

from tests.support import ServerThread


def test_delivery_reaches_the_inbox(server: ServerThread, directory) -> None:
    directory.create_account("alice@example.org", "pw")
    with smtplib.LMTP("127.0.0.1", server.lmtp_port) as lmtp:
        refused = lmtp.sendmail(
            "bob@remote.test",
            ["alice@example.org"],
            b"Subject: hi\r\nMessage-ID: <s1@remote.test>\r\n\r\nhello\r\n",
        )
    assert refused == {}
    alice = server.store.principal_by_address("alice@example.org")
    inbox = server.store.mailbox_by_role(alice.id, "inbox")
    assert inbox.total == 1
