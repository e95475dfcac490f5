"""Run inside ``manage.py shell``: what django-pyas2 recorded, as JSON lines."""

import json

from pyas2.models import Message

for m in Message.objects.order_by("timestamp"):
    content = m.payload.read() if m.payload else b""
    print(
        "REPORT "
        + json.dumps(
            {
                "message_id": m.message_id,
                "direction": m.direction,
                "status": m.status,
                "detail": m.detailed_status,
                "mdn_mode": m.mdn_mode,
                "payload": content.decode("latin-1"),
            }
        )
    )
