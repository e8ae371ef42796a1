"""The editors' page: one HTML file, no build step, no external fetches."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page(request: Request) -> HTMLResponse:
    html = resources.files("summarize.service").joinpath("page.html").read_text("utf-8")
    targets = request.app.state.service.settings.targets
    return HTMLResponse(html.replace("{{TARGETS}}", ",".join(targets)))
