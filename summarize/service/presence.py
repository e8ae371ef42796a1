"""Who else has an item open, and which field they are editing: a heartbeat each desk page
sends while an item is open. Kept in memory for a short while (a page that closes simply stops
beating), so conflicts are avoided, not only detected; an editor can still take over."""

from __future__ import annotations

import threading
import time
from typing import Any

# A page beats every 10 s; one not heard from for this long has left.
TTL_S = 25.0


class Presence:
    def __init__(self, ttl: float = TTL_S) -> None:
        self.ttl = ttl
        self._seen: dict[tuple[str, str], dict[str, tuple[str | None, float, float]]] = {}
        self._lock = threading.Lock()

    def beat(self, job: str, item: str, name: str, field: str | None) -> list[dict[str, Any]]:
        """`name` has `item` open (editing `field`, or None); returns the others there."""
        now = time.time()
        with self._lock:
            here = self._seen.setdefault((job, item), {})
            before = here.get(name)
            since = before[2] if before is not None and before[0] == field else now
            here[name] = (field, now, since)
            for other, (_, last, _) in list(here.items()):
                if now - last > self.ttl:
                    del here[other]
            return [
                {"name": other, "field": f, "since": s}
                for other, (f, _, s) in sorted(here.items())
                if other != name
            ]

    def done_editing(self, job: str, item: str, name: str) -> None:
        """`name` saved or approved: still on the item, no longer editing a field, so a
        colleague is not asked to take over a field nobody is editing."""
        with self._lock:
            here = self._seen.get((job, item), {})
            if name in here:
                _, last, _ = here[name]
                here[name] = (None, last, time.time())

    def leave(self, job: str, item: str, name: str) -> None:
        with self._lock:
            self._seen.get((job, item), {}).pop(name, None)
