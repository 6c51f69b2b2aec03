"""The FastAPI application: API, pages, sign-in, static files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from http.cookies import CookieError, SimpleCookie

from . import (api, api_access, api_cover, api_docs, api_events, auth, cover_pages, dashboard_pages, events_pages,
               forecast_pages, operations_api, operations_pages, pages, quality_pages, record_pages, reviews, task_pages)
from .limits import BodyLimit
from .oidc import OidcClient
from .security import SESSION_COOKIE, NotSignedIn, PrincipalCache, Sessions
from .service import WebBackend
from .settings import WebSettings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass
class WebState:
    backend: WebBackend
    settings: WebSettings
    sessions: Sessions
    principals: PrincipalCache
    oidc: OidcClient | None

    @property
    def accounts(self):
        return self.backend.accounts

    @property
    def store(self):
        return self.backend.store


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # form-js evaluates FEEL without eval; bpmn-js draws inline SVG styles
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}


def create_app(backend: WebBackend, settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    app = FastAPI(
        title="PEP flow", version="0.1.0",
        description="Task list, PEP pages, operations and the Virtual School dashboard of the embedded mode.",
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,  # docs: api_docs.py
    )
    secret = settings.signing_key(backend.data_dir)
    app.state.web = WebState(
        backend=backend, settings=settings, sessions=Sessions(secret, settings.session_hours * 3600),
        principals=PrincipalCache(), oidc=OidcClient(settings) if settings.oidc_enabled else None,
    )

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if settings.production:  # served over HTTPS: browsers must never try plain HTTP
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.url.path.startswith(("/api/", "/tasks", "/peps", "/children", "/operations", "/dashboard", "/forecast", "/admin", "/quality", "/ppp", "/reviews", "/cover", "/events")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.include_router(api.router)
    app.include_router(api_access.router)
    app.include_router(operations_api.router)
    app.include_router(dashboard_pages.api)
    app.include_router(auth.router)
    app.include_router(api_docs.router)
    app.include_router(api_cover.router)
    app.include_router(api_events.router)
    app.include_router(task_pages.router)
    app.include_router(pages.router)
    app.include_router(record_pages.router)
    app.include_router(operations_pages.router)
    app.include_router(dashboard_pages.pages)
    app.include_router(forecast_pages.router)
    app.include_router(quality_pages.router)  # the Virtual School's quality review and Pupil Premium Plus
    app.include_router(reviews.router)
    app.include_router(cover_pages.router)
    app.include_router(events_pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    node_modules = settings.node_modules or ROOT / "node_modules"
    for name, folder in (("form-js", node_modules / "@bpmn-io/form-js/dist"), ("bpmn-js", node_modules / "bpmn-js/dist"),
                         ("swagger-ui", node_modules / "swagger-ui-dist")):
        # served from the npm install, never committed; missing -> the page says so
        app.mount(f"/vendor/{name}", StaticFiles(directory=folder, check_dir=False), name=f"vendor-{name}")
    sessions = app.state.web.sessions

    def signed_in(cookie_header: str) -> bool:
        try:
            morsel = SimpleCookie(cookie_header).get(SESSION_COOKIE)
        except CookieError:
            return False
        return morsel is not None and sessions.read(morsel.value) is not None

    # outermost: no body is read (CSRF form parsing included) before its size is known
    app.add_middleware(BodyLimit, is_signed_in=signed_in)
    return app
