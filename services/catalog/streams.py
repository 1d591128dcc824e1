"""Every stream (and group) the catalog writes or reads, and the entry types on them, named
from the registry (`shared.event_types`).

- `catalog.events`: written on every committed write; read by every replica without a group
  (each drops its in-process banner copy on `banner.changed`).
- `catalog.commands`: read by group `catalog`; the scheduler (and `coursestream catalog
  rebuild-banners`) send `banners.rebuild-cache`.
"""

from __future__ import annotations

from shared import event_types as registry

EVENTS_STREAM = registry.CATALOG_EVENTS.key
BANNER_CHANGED = registry.BANNER_CHANGED.name
COURSE_CHANGED = registry.COURSE_CHANGED.name

COMMANDS_STREAM = registry.CATALOG_COMMANDS.key
(COMMANDS_GROUP,) = registry.CATALOG_COMMANDS.groups
REBUILD_BANNERS = registry.REBUILD_BANNERS.name
