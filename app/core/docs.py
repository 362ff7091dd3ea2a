"""Interactive API docs served from self-hosted Swagger UI files (no CDN)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AI Day Ledger API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/static/vendor/swagger-ui-bundle.js"></script>
<script src="/static/js/swagger-init.js"></script></body></html>"""


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Show Swagger UI for the OpenAPI document."""
    return HTMLResponse(PAGE.format(openapi_url=request.app.openapi_url))
