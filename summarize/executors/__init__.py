"""Executors compute what the cache did not have: in this process, or on a Ray cluster.

The runner (the driver) looks every stage up in the cache first and hands an executor only
the articles with something missing. An executor yields each article once its stages are
filled in or it has failed; it never writes the driver's cache itself. Cache entries computed
elsewhere come back on the article (`Item.entries`) for the runner to store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from summarize.config import Settings
from summarize.stages import Item, Stages


class Executor(Protocol):
    name: str

    def run(self, stages: Stages, items: list[Item]) -> Iterator[Item]: ...

    def warnings(self) -> list[str]: ...

    def close(self) -> None: ...


def waves(items: list[Item], batch_size: int) -> list[list[Item]]:
    """Articles grouped for computing: longest first, `batch_size` at a time, so each wave
    pads little. Both executors compute the same waves: a model's output can depend on what
    else is in its batch (padding changes the arithmetic slightly), so the same grouping is
    what makes their results identical."""
    order = sorted(items, key=lambda it: (-len(it.article.text), it.index))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def get_executor(settings: Settings, *, long_lived: bool = False) -> Executor:
    """The executor `settings.executor` names; Ray is imported only when it is chosen.
    `long_lived` (serve, watch): Ray keeps one pool of workers, models loaded, across batches."""
    if settings.executor == "ray":
        from summarize.executors.ray import RayExecutor

        return RayExecutor(settings, keep_pool=long_lived)
    from summarize.executors.local import LocalExecutor

    return LocalExecutor(settings)
