"""Templates, the HTML error pages and the route class of the web pages.

:class:`WebRoute` turns the errors the service functions raise (``ApiError`` of
governance, ``DiscoveryError``, any ``ValueError`` carrying a ``status_code``, invalid
path/query parameters) into an HTML page with the same status and the same words as the
API's ``detail``; a missing or expired session becomes a redirect to the sign-in page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from catalog_api.core.config import ApiConfig
from catalog_api.web import session as web_session
from catalog_api.web.forms import duo_label, primary_label
from consent import oncotree

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
STATIC_URL = "/web/static"

#: Headers of every page: no framing, no inline script, no caching of private pages.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def tumour_label(code: str) -> str:
    """``LUAD`` → ``LUAD — Lung Adenocarcinoma``; ``other`` → words."""
    if code == "other":
        return "Other tumour types (each fewer than the threshold)"
    return f"{code} — {oncotree.label(code)}" if oncotree.is_code(code) else code


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _when(value: Any) -> str:
    if value is None:
        return "—"
    text = value.isoformat(timespec="minutes") if hasattr(value, "isoformat") else str(value)
    return text.replace("T", " ").replace("+00:00", " UTC")


def _state(value: Any) -> str:
    return str(getattr(value, "value", value)).replace("_", " ")


env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html", "svg"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["pretty_json"] = _pretty_json
env.filters["when"] = _when
env.filters["state"] = _state
env.filters["duo_label"] = duo_label
env.filters["primary_label"] = primary_label
env.filters["tumour_label"] = tumour_label
templates = Jinja2Templates(env=env)


def config_of(request: Request) -> ApiConfig:
    """The app's configuration."""
    config: ApiConfig = request.app.state.config
    return config


def finish(request: Request, response: Response) -> Response:
    """Add the security headers and the anonymous CSRF cookie when one was made."""
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    new_anon = getattr(request.state, "new_anon_cookie", None)
    if new_anon:
        web_session.set_cookie(
            response, config_of(request), web_session.ANON_COOKIE, new_anon, 60 * 60 * 24
        )
    return response


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """Render template ``name`` with the common context (user, CSRF token, navigation)."""
    user = getattr(request.state, "web_user", None)
    config = config_of(request)
    ctx = {
        "user": user,
        "csrf_token": web_session.csrf_token(request, config),
        "csrf_field": web_session.CSRF_FIELD,
        "static": STATIC_URL,
        "path": request.url.path,
        "flash": request.query_params.get("done", "")[:200],
        **context,
    }
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    return finish(request, response)


def error_page(request: Request, status: int, message: str) -> Response:
    """The HTML page of an error (same words as the API's ``detail``)."""
    titles = {
        400: "The request could not be used",
        403: "Not allowed",
        404: "Not found",
        409: "Not possible now",
        410: "No longer available",
        422: "Please check the form",
        429: "Too many queries",
        503: "Not ready yet",
    }
    return render(
        request,
        "error.html",
        {"title": titles.get(status, "Error"), "status": status, "message": message},
        status=status,
    )


def sign_in_redirect(request: Request) -> Response:
    """303 to the sign-in page, coming back to this page (GET) afterwards."""
    target = request.url.path if request.method == "GET" else "/web/"
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return finish(
        request, RedirectResponse(f"/web/sign-in?next={quote(target, safe='')}", status_code=303)
    )


class WebRoute(APIRoute):
    """Routes of the web pages: errors become HTML pages, no session a sign-in redirect."""

    def get_route_handler(self) -> Any:
        """Wrap FastAPI's handler with the error translation."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Any:
            try:
                return await original(request)
            except web_session.SignInRequired:
                return sign_in_redirect(request)
            except RequestValidationError as exc:
                where = {str(e.get("loc", ("",))[0]) for e in exc.errors()}
                status = 404 if where == {"path"} else 400
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return error_page(request, status, detail or "invalid request")
            except ValueError as exc:  # ApiError, DiscoveryError, other input errors
                status = int(getattr(exc, "status_code", 400))
                if status == 401:
                    return sign_in_redirect(request)
                return error_page(request, status, str(exc))

        return handler
