"""Transport adapters behind one contract (see base.py): folder now; SFTP, AS2 and webhooks plug in here."""
