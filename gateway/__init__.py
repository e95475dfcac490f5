"""B2B partner gateway for X12 EDI and file exchange."""

__version__ = "0.1.0"
