"""The OpenAPI document as a client developer expects it, and the self-hosted Swagger UI and ReDoc pages.

* Error answers (400/401/403/404/409/410/422/503) carry a schema: ``{"detail": "..."}`` (:class:`ErrorBody`), or
  FastAPI's validation list for 422; each is filled in where a route only gave a description.
* Every operation answers with ``X-Request-ID`` (declared on each response).
* Swagger UI and ReDoc load their scripts from this package (the static files of ``fastapi-offline``), never from
  a CDN: an air-gapped server shows its documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from gateway.api.openapi_docs import describe

ERROR_TEXT = {
    400: "bad request: the body or a parameter cannot be used",
    401: "no API key, an unknown or revoked one, or a malformed Authorization header",
    403: "the API key's role is too low for this operation",
    404: "no such resource",
    409: "the action does not apply in the resource's current state",
    410: "the payload was purged from the archive",
    422: "a parameter or the body failed validation",
    503: "not ready",
}


class ErrorBody(BaseModel):
    """Every error answer but 422: a sentence saying what, where and what to do."""

    detail: str = Field(
        description="what went wrong and what to do",
        examples=["message 42 is inbound: resend applies to outbound messages (use reprocess instead)"],
    )


def _swagger_static() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _patch(schema: dict[str, Any]) -> dict[str, Any]:
    describe(schema)
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    comps["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    rid = {
        "X-Request-ID": {
            "description": "this request's id (yours if you sent a valid X-Request-ID); it is on every log line",
            "schema": {"type": "string", "example": "5f0c2a9e1b7d4c33"},
        }
    }
    for path in schema.get("paths", {}).values():
        for op in path.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            secured = bool(op.get("security"))
            if secured:
                op["responses"].setdefault("401", {"description": ERROR_TEXT[401]})
                op["responses"].setdefault("403", {"description": ERROR_TEXT[403]})
            for code, resp in op["responses"].items():
                resp.setdefault("headers", {}).update(rid)
                if code.isdigit() and int(code) >= 400 and code != "422" and "content" not in resp:
                    resp["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                    resp.setdefault("description", ERROR_TEXT.get(int(code), "error"))
    return schema


def install(app: FastAPI) -> None:
    """Replace FastAPI's CDN-backed /docs and /redoc (create the app with docs_url=None, redoc_url=None)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _patch(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount("/static/docs", StaticFiles(directory=_swagger_static()), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"persistAuthorization": False, "displayRequestDuration": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API",
            redoc_js_url="/static/docs/redoc.standalone.js",
            redoc_favicon_url="/static/docs/favicon.png",
            with_google_fonts=False,
        )
