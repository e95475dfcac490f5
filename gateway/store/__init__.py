"""Audit store (metadata, lineage, timeline) and the content-addressed archive of payload bytes."""
