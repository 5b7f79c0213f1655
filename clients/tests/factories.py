from __future__ import annotations

import factory

from clients.models import Client


class ClientFactory(factory.django.DjangoModelFactory[Client]):
    class Meta:
        model = Client

    phone = factory.Sequence(lambda n: f"7900{n:07d}")
    operator_code = factory.LazyAttribute(lambda c: c.phone[1:4])
    tag = ""
    timezone = "UTC"
