"""The web API (FastAPI): thin routes over the store and the flows. OpenAPI at /docs."""
