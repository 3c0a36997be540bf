"""The customer dashboard under `/dashboard`: server-rendered pages (`api.html`) on the
API's application services, signed in with a cookie session (`web_session`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.dashboard import (
    account_pages,
    backlink_pages,
    job_pages,
    key_pages,
    overview,
    site_pages,
)
from api.dashboard.pages import not_found, page
from api.dashboard.web_session import signed_in

GET, POST = ["GET"], ["POST"]


@page
async def unknown(request: Request) -> Response:
    await signed_in(request)  # the page's header shows who is signed in
    return not_found(request)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", overview.overview, methods=GET),
        Route("/dashboard/sign-in", account_pages.sign_in_form, methods=GET),
        Route("/dashboard/sign-in", account_pages.sign_in, methods=POST),
        Route("/dashboard/register", account_pages.register_form, methods=GET),
        Route("/dashboard/register", account_pages.register, methods=POST),
        Route("/dashboard/sign-out", account_pages.sign_out, methods=POST),
        Route("/dashboard/sites", site_pages.index, methods=GET),
        Route("/dashboard/sites", site_pages.create, methods=POST),
        Route("/dashboard/sites/{site_id}/edit", site_pages.edit_form, methods=GET),
        Route("/dashboard/sites/{site_id}", site_pages.update, methods=POST),
        Route("/dashboard/sites/{site_id}/archive", site_pages.archive, methods=POST),
        Route("/dashboard/jobs", job_pages.index, methods=GET),
        Route("/dashboard/jobs", job_pages.create, methods=POST),
        Route("/dashboard/jobs/new", job_pages.new_job_form, methods=GET),
        Route("/dashboard/jobs/{job_id}", job_pages.show, methods=GET),
        Route("/dashboard/jobs/{job_id}/progress", job_pages.progress, methods=GET),
        Route("/dashboard/jobs/{job_id}/stream", job_pages.stream, methods=GET),
        Route("/dashboard/jobs/{job_id}/cancel", job_pages.cancel, methods=POST),
        Route("/dashboard/backlinks", backlink_pages.index, methods=GET),
        Route("/dashboard/backlinks.csv", backlink_pages.csv, methods=GET),
        Route("/dashboard/api-keys", key_pages.index, methods=GET),
        Route("/dashboard/api-keys", key_pages.create, methods=POST),
        Route("/dashboard/api-keys/{key_id}/revoke", key_pages.revoke, methods=POST),
        Route("/dashboard/{rest:path}", unknown, methods=GET),
    ]
