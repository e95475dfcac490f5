"""Partner registry: partner files (schema, loader) and identification of inbound documents."""
