"""Test helpers: real services started or reached by the suite (PostgreSQL, OpenSSH), sample files."""
