"""Phone numbers and operator codes in ASCII digits only.

Earlier releases accepted any Unicode digit (``\\d``), so "٧٩٠٠١٢٣٤٥٦٧" (Arabic-Indic) and
"７９００１２３４５６７" (full-width) were stored as clients apart from "79001234567". This
rewrites every such value in ASCII digits. A phone that would then equal another client's is
not merged (which client's tag, zone and history should win is the operator's call): it is
left as it was, listed in the migration's output and the log, and the dispatcher refuses to
send to a phone that is not ASCII digits (the message fails with that reason), so the number
is never sent twice.
"""

from __future__ import annotations

import logging
import unicodedata

from django.db import migrations

logger = logging.getLogger("clients.migrations")


def to_ascii(value: str) -> str:
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch
        for ch in value
    )


def mask(phone: str) -> str:
    return f"{phone[:4]}***{phone[-4:]}" if len(phone) > 7 else "***"


def normalize(apps, schema_editor):
    Client = apps.get_model("clients", "Client")
    suspects = [
        c for c in Client.objects.only("id", "phone", "operator_code").iterator()
        if not (c.phone.isascii() and c.operator_code.isascii())
    ]
    if not suspects:
        return
    taken = set(Client.objects.filter(phone__regex=r"^[0-9]+$").values_list("phone", flat=True))
    collisions = []
    for client in suspects:
        phone, code = to_ascii(client.phone), to_ascii(client.operator_code)
        if phone != client.phone and phone in taken:
            collisions.append((client.pk, mask(phone)))
            Client.objects.filter(pk=client.pk).update(operator_code=code)
            continue
        taken.add(phone)
        Client.objects.filter(pk=client.pk).update(phone=phone, operator_code=code)
    converted = len(suspects) - len(collisions)
    print(f"\n  clients: {converted} phone(s)/operator code(s) rewritten in ASCII digits")
    for pk, phone in collisions:
        message = (
            f"client {pk}: its phone in ASCII digits ({phone}) is another client's; left as it "
            "was and never sent to: delete or correct one of the two"
        )
        print(f"  clients: {message}")
        logger.warning(message, extra={"client_id": pk})


class Migration(migrations.Migration):
    dependencies = [("clients", "0001_initial")]

    operations = [migrations.RunPython(normalize, migrations.RunPython.noop)]
