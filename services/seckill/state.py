"""What the seckill HTTP app holds while it runs (built in app.create_app's cleanup_ctx)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from services.seckill.adapters.repository import Repository
from services.seckill.adapters.sale_store import SaleStore
from services.seckill.adapters.ticket_channels import TicketChannels
from services.seckill.domain import OpenStreams
from services.seckill.metrics import AdmissionMetrics
from services.seckill.settings import Settings


@dataclass
class State:
    settings: Settings
    redis: Redis
    repo: Repository
    store: SaleStore
    admission_metrics: AdmissionMetrics
    ticket_channels: TicketChannels
    open_streams: OpenStreams


STATE_KEY = web.AppKey("seckill", State)
