"""Interactive API docs served from self-hosted Swagger UI files (no CDN)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.core.assets import static_url

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="Reference of the AI Day Ledger JSON API: claims, evidence, capabilities and simulation runs.">
<title>AI Day Ledger API</title>
<link rel="stylesheet" href="{css}"></head>
<body><main id="swagger-ui" data-openapi-url="{openapi_url}"></main>
<script src="{bundle}" defer></script>
<script src="{init}" defer></script></body></html>"""


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Show Swagger UI for the OpenAPI document."""
    return HTMLResponse(
        PAGE.format(
            openapi_url=request.app.openapi_url,
            css=static_url("vendor/swagger-ui.css"),
            bundle=static_url("vendor/swagger-ui-bundle.js"),
            init=static_url("js/swagger-init.js"),
        )
    )
