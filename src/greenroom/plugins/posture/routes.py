"""`GET /api/posture`: the live posture report; `GET /api/posture/checks`: what is checked."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from greenroom.kernel import PluginRouter
from greenroom.plugins.posture.permissions import REPORT_READ
from greenroom.posture.gate import PostureService

JSON = "application/json; charset=utf-8"


def register(router: PluginRouter, service: PostureService) -> None:
    @router.get("", permission=REPORT_READ)
    def report(request: Request) -> Response:  # noqa: ARG001 - the permission guard reads it
        # Recomputed per request: suppressions expire and plugins get installed while the portal runs.
        return Response(orjson.dumps(service.report().to_json()), media_type=JSON,
                        headers={"Cache-Control": "no-store"})

    @router.get("/checks", permission=REPORT_READ)
    def checks(request: Request) -> Response:  # noqa: ARG001 - the permission guard reads it
        from greenroom.posture.engine import all_checks

        body = [{**c.info.to_json(), "what": " ".join((c.run.__doc__ or "").split())} for c in all_checks()]
        return Response(orjson.dumps(body), media_type=JSON)
