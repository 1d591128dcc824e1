"""Every stream (and group) the catalog writes or reads, and the entry types on them.

- `catalog.events`: written on every committed write; read by every replica without a group
  (each drops its in-process banner copy on `banner.changed`).
- `catalog.commands`: read by group `catalog`; the scheduler (and `coursestream catalog
  rebuild-banners`) send `banners.rebuild-cache`.
"""

from __future__ import annotations

EVENTS_STREAM = "catalog.events"
BANNER_CHANGED = "banner.changed"
COURSE_CHANGED = "course.changed"

COMMANDS_STREAM = "catalog.commands"
COMMANDS_GROUP = "catalog"
REBUILD_BANNERS = "banners.rebuild-cache"
