"""The LMTP backend: connects the protocol's questions to recipient checks and delivery."""

from __future__ import annotations

from protocols.lmtp import Envelope, Reply, reply_for_error

from .delivery import Delivery
from .delivery import Envelope as DeliveryEnvelope

DELIVERED = Reply(250, "2.0.0", "Delivered")
VRFY_ANSWER = Reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")


class LmtpService:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def check_recipient(self, address: str) -> Reply | None:
        err = self.delivery.check_recipient(address)
        return None if err is None else reply_for_error(err)

    async def deliver(self, envelope: Envelope, data: bytes) -> list[Reply]:
        env = DeliveryEnvelope(
            mail_from=envelope.mail_from,
            recipients=envelope.recipients,
            helo=envelope.lhlo_host,
            peer=envelope.peer,
            # RFC 3848: LMTPS when the session is under TLS.
            protocol="LMTPS" if envelope.tls_active else "LMTP",
        )
        results = await self.delivery.deliver(env, data)
        return [DELIVERED if err is None else reply_for_error(err) for err in results]

    async def verify(self, address: str) -> Reply:
        # RFC 5321 §3.5.3: 252 avoids disclosing which addresses exist.
        return VRFY_ANSWER
