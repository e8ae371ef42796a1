"""The default executor: computes in this process, one wave of `batch_size` articles at a time."""

from __future__ import annotations

from collections.abc import Iterator

from summarize.config import Settings
from summarize.executors import waves
from summarize.stages import Item, Stages


class LocalExecutor:
    """In-process: each stage's results go into the cache as soon as they exist, since this
    process is the driver."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.batch_size = settings.batch_size

    def run(self, stages: Stages, items: list[Item]) -> Iterator[Item]:
        for wave in waves(items, self.batch_size):
            stages.process(wave)
            yield from wave

    def warnings(self) -> list[str]:
        return []

    def close(self) -> None:
        return None
