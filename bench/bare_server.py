"""The ceiling: a bare aiohttp handler returning fixed bytes, one process."""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web

BODY = b'[{"id":1,"title":"banner","image":"http://127.0.0.1/media/banners/1.svg"}]'


async def fixed(_request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_get("/{tail:.*}", fixed)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
