import io
import json
import logging

from gateway.logging import configure_logging, get_logger, log_context


def test_json_records_carry_context_ids_and_mask_secrets():
    buf = io.StringIO()
    configure_logging("INFO", "json", stream=buf)
    log = get_logger("gateway.test")
    with log_context(correlation_id="c1", message_id=7), log_context(partner_id="acme"):
        log.info("message.archived", extra={"fields": {"size": 3, "password": "hunter2", "nested": {"api_key": "k"}}})
    rec = json.loads(buf.getvalue().strip())
    assert rec["event"] == "message.archived"
    assert (rec["correlation_id"], rec["message_id"], rec["partner_id"]) == ("c1", 7, "acme")
    assert rec["password"] == "***" and rec["nested"]["api_key"] == "***"
    assert "hunter2" not in buf.getvalue()
    logging.getLogger().handlers.clear()
