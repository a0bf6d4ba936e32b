"""An ASGI gateway in front of the reference server, for tests that need an endpoint which
declines a feature the way a real provider does (a proper 400 with a JSON error)."""

from __future__ import annotations

import asyncio
import json

from starlette.responses import JSONResponse


def declining(inner, refused_field):
    """The reference server behind a gateway that declines one request field with a 400."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if refused_field in json.loads(body or b"{}"):
            refusal = {"error": {"message": f"{refused_field} is not supported", "type": "x"}}
            return await JSONResponse(refusal, 400)(scope, receive, send)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # until the response is done and this is cancelled
            return {"type": "http.disconnect"}

        return await inner(scope, replay, send)

    return app
