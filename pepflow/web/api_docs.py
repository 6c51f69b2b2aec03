"""The API reference (Swagger UI) served from this product, never a CDN: the page
loads ``swagger-ui-dist`` from the npm install (``/vendor/swagger-ui``) and starts it
from ``/static/api-docs.js``, so it works under the app's Content-Security-Policy
(``script-src 'self'``: no inline script, no other origin)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PEP flow API reference</title>
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="data:,">
</head>
<body>
<main id="swagger-ui" data-spec="/api/v1/openapi.json"><h1>PEP flow API reference</h1>
<p>The reference needs JavaScript. The OpenAPI document is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p></main>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


@router.get("/api/v1/docs", response_class=HTMLResponse)
def swagger_ui_html() -> HTMLResponse:
    return HTMLResponse(PAGE)
