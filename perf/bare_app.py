"""A bare Starlette app serving a fixed JSON body: the ceiling the ledger's reads are compared to."""

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes()


async def bare(_request):  # type: ignore[no-untyped-def]
    """Return the same bytes every time."""
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/bare", bare)])
