"""Hand-off to internal systems: the hand-off file (``config.py``), events (``events.py``), the outbox
(``outbox.py``) and destinations (``destinations/``). The flow joining them is ``gateway/flows/handoff.py``;
see docs/handoff.md."""
