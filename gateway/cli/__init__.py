"""Command line interface: ``gateway`` and its sub-commands (one module per command group)."""
