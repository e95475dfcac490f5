"""Flows join the layers: inbound, outbound, acknowledgements, polling."""
