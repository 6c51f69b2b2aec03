"""Sign-in, sign-out and single sign-on routes."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlparse

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .accounts import AccountError
from .oidc import OidcError
from .security import ANON_CSRF_COOKIE, SESSION_COOKIE, allow, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
OIDC_COOKIE = "pep_oidc"

# What the sign-in page may say: by code, never text from the query string.
SIGN_IN_ERRORS = {
    "failed": "Sign-in failed: check your username and password. After repeated failures the account is locked for a while.",
}
SIGN_IN_NOTICES = {
    "password-changed": "Your password was changed. Sign in with the new one.",
}


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or urlparse(value).netloc:
        return "/"
    return value


def start_session(request: Request, response: Response, account) -> None:
    web = request.app.state.web
    cookie, _csrf = web.sessions.issue(account.id, account.session_version)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=int(web.sessions.max_age), httponly=True,
                        samesite="lax", secure=web.settings.secure_cookies, path="/")
    response.delete_cookie(ANON_CSRF_COOKIE, path="/")


def _anon_page(request: Request, template: str, **context) -> Response:
    from .pages import render

    web = request.app.state.web
    token, cookie = web.sessions.anon_token()
    response = render(request, template, None, csrf=token, **context)
    response.set_cookie(ANON_CSRF_COOKIE, cookie, max_age=3600, httponly=True, samesite="strict",
                        secure=web.settings.secure_cookies, path="/")
    return response


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_page(request: Request, next: str | None = None, error: str | None = Query(None, max_length=40),
                 notice: str | None = Query(None, max_length=40)) -> Response:
    web = request.app.state.web
    return _anon_page(request, "sign_in.html", next=_safe_next(next), error=SIGN_IN_ERRORS.get(error or ""),
                      notice=SIGN_IN_NOTICES.get(notice or ""), oidc=web.oidc is not None)


@router.post("/sign-in", include_in_schema=False)
def sign_in(request: Request, username: str = Form(..., max_length=200), password: str = Form(..., max_length=1000),
            next: str = Form("/", max_length=500)) -> Response:
    web = request.app.state.web
    account, reason = web.accounts.authenticate(username, password)
    if account is None:
        web.backend.audit("web", "account", username.strip().lower()[:200] or "-", "sign-in-failed", {"reason": reason})
        return RedirectResponse(f"/sign-in?{urlencode({'error': 'failed', 'next': _safe_next(next)})}", status_code=303)
    web.backend.audit(account.staff_id or account.username, "account", account.username, "sign-in", {})
    response = RedirectResponse(_safe_next(next), status_code=303)
    start_session(request, response, account)
    return response


@router.get("/reset-password", response_class=HTMLResponse, include_in_schema=False)
def reset_password_page(request: Request) -> Response:
    """Set a new password with a one-time code an administrator issued."""
    return _anon_page(request, "reset_password.html", error=None)


@router.post("/reset-password", include_in_schema=False)
def reset_password(request: Request, code: str = Form(..., max_length=100), password: str = Form(..., max_length=1000),
                   password2: str = Form(..., max_length=1000)) -> Response:
    web = request.app.state.web
    if password != password2:
        return _anon_page(request, "reset_password.html", error="The two passwords differ.")
    try:
        account = web.accounts.redeem_reset(code.strip(), password)
    except AccountError as exc:
        web.backend.audit("web", "account", "-", "password-reset-refused", {})
        return _anon_page(request, "reset_password.html", error=str(exc))
    web.backend.audit(account.staff_id or account.username, "account", account.username, "password-reset", {})
    return RedirectResponse("/sign-in?notice=password-changed", status_code=303)


@router.post("/sign-out", include_in_schema=False)
def sign_out(request: Request, principal=allow("signed-in")) -> Response:
    web = request.app.state.web
    web.accounts.end_sessions(principal.user_id)
    web.principals.clear()
    web.backend.audit(principal.staff_id, "account", principal.username, "sign-out", {})
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/oidc/login", include_in_schema=False)
def oidc_login(request: Request) -> Response:
    web = request.app.state.web
    if web.oidc is None:
        raise HTTPException(404, "single sign-on is not configured")
    url, kept = web.oidc.start()
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(OIDC_COOKIE, web.sessions.anon.dumps(kept), max_age=600, httponly=True, samesite="lax",
                        secure=web.settings.secure_cookies, path="/auth/oidc")
    return response


@router.get("/auth/oidc/callback", include_in_schema=False)
def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    web = request.app.state.web
    if web.oidc is None:
        raise HTTPException(404, "single sign-on is not configured")
    try:
        kept = web.sessions.anon.loads(request.cookies.get(OIDC_COOKIE, ""), max_age=600)
        username = web.oidc.finish(code, state, kept)
    except (OidcError, ValueError, OSError, json.JSONDecodeError) as exc:
        raise HTTPException(403, f"single sign-on failed: {exc}") from None
    account = web.accounts.by_username(username)
    if account is None or not account.active:
        raise HTTPException(403, "no active account for this sign-on; ask an administrator")
    web.backend.audit(account.staff_id or account.username, "account", account.username, "sign-in-oidc", {})
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, account)
    response.delete_cookie(OIDC_COOKIE, path="/auth/oidc")
    return response
