from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from clients.tests.factories import ClientFactory
from mailings.models import Mailing, MailingStatus, Message, MessageStatus


class MailingFactory(factory.django.DjangoModelFactory[Mailing]):
    class Meta:
        model = Mailing

    text = "Hello"
    start_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    end_at = factory.LazyAttribute(lambda m: m.start_at + timedelta(days=1))
    status = MailingStatus.SCHEDULED


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    mailing = factory.SubFactory(MailingFactory, status=MailingStatus.RUNNING)
    client = factory.SubFactory(ClientFactory)
    phone = factory.LazyAttribute(lambda m: m.client.phone if m.client else "79000000000")
    status = MessageStatus.PENDING
