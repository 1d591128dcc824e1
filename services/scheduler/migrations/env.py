from services.scheduler.adapters.orm import metadata
from shared.db import run_env

run_env(metadata)
