"""The seckill ceiling: a bare aiohttp handler that only runs the admission Lua script.

    python -m bench.seckill_bare PORT REDIS_URL PARTITIONS

`POST /{item}/{user}` runs the same script as the service (the runtime's `SaleStore`, from
`services.seckill.bootstrap`: same keys, same ARGV) and answers 202 or 409 with a few fixed
bytes: no token check, no middlewares, no metrics.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import uvloop
from aiohttp import web

from services.seckill.bootstrap import Runtime, bootstrap
from services.seckill.handlers import new_ticket
from services.seckill.settings import Settings
from shared.events import new_event_id

RUNTIME = web.AppKey("runtime", Runtime)


def main() -> None:
    port, redis_url, partitions = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    settings = Settings(redis_url=redis_url, seckill_partitions=partitions)

    async def runtime(app: web.Application) -> AsyncIterator[None]:
        async with bootstrap(settings) as rt:
            app[RUNTIME] = rt
            yield

    async def admit(request: web.Request) -> web.Response:
        item_id, user_id = int(request.match_info["item"]), int(request.match_info["user"])
        admission = await request.app[RUNTIME].store.admit(
            item_id, user_id, new_ticket(item_id), new_event_id(), "bench")
        if admission.ticket is None:
            return web.Response(status=409, body=admission.outcome.encode())
        return web.Response(status=202, body=admission.ticket.encode())

    app = web.Application()
    app.cleanup_ctx.append(runtime)
    app.router.add_post("/{item}/{user}", admit)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
