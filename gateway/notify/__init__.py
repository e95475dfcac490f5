"""Notifications to people: a webhook (JSON, or Slack-compatible) and email over SMTP.

What sends them: certificate expiry (a scheduled check), dead deliveries and quarantined files (seen in the
rows each transaction commits), and any other part of the gateway through ``gw.notifier.notify``
(:class:`gateway.notify.notifier.Notifier`)::

    gw.notifier.notify(
        "ack_rejected",                       # a kind from KINDS (others are allowed and pass through)
        key=f"{message.id}",                  # what makes two notices "the same": sent once per repeat_hours
        subject="997 rejected by acme-retail",
        text="Message 42 (856, PO 123) was rejected: AK5*R*5. Open /ui/messages/42.",
        severity="error",                     # info | warning | error
        fields={"message_id": 42, "partner": "acme-retail"},
    )

``notify`` never blocks and never raises: the notice is queued; a worker thread deduplicates it against the
store (``notification_sent``: the same kind + key goes out at most once per ``repeat_hours``, across restarts
and nodes), applies the rate limit (``max_per_hour``; the excess is summed up in one digest), and sends it to
every configured channel with a few retries. Settings: ``notifications:`` in config/gateway.yaml.
"""

# Modules: model (notices and how they read, pure), settings, notifier (queue, dedup, rate limit, channels),
# sources (certificate expiry check, dead deliveries and quarantines from committed rows). Import them directly;
# this package stays light because gateway.settings imports its settings.
