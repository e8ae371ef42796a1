"""The Ray executor: the cache's misses go out to a Ray cluster through Ray Data.

`map_batches` over a fixed pool of actors: each actor builds the stages once (models load on
first use and stay loaded) and computes whole articles, so nothing crosses the network between
stages. Each Ray Data row is one wave of articles, formed as the local executor forms them
(longest first, `batch_size` at a time), so both compute the same batches and give the same
results. Results stream back as waves finish, keyed by article, and the driver stores and
writes each as it arrives. An article that raises comes back as that article's error; a
worker that dies is restarted and its wave retried, a bounded number of times. Only the
driver touches SQLite.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import pickle
import socket
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from summarize.cache import CacheEntry, RecordingCache
from summarize.catalog import Catalog, looks_like_path
from summarize.config import Settings
from summarize.errors import ClusterError, ConfigError
from summarize.executors import waves
from summarize.hub import ensure_present
from summarize.stages import Item, Stages
from summarize.text import text_hash

INSTALL = "pip install 'summarize[ray]'"
# How long a worker pool may take to start before the run fails (not enough CPUs, say).
START_TIMEOUT_S = 300


def import_ray() -> Any:
    """Ray, or a ConfigError saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(
            f"--executor ray needs Ray, which is not installed here: {INSTALL}"
        ) from None
    return ray


# ---------------------------------------------------------------------------
# The worker's side: articles travel as `Item`s, pickled (same package on both ends), without
# their plan (model objects stay where they were built); each worker plans them again.


def shippable(it: Item) -> Item:
    """An article as it goes out or comes back: no plan, no deferred flag."""
    return dataclasses.replace(it, plan=None, deferred=False)


def _entries_for(it: Item, entries: list[CacheEntry]) -> list[CacheEntry]:
    """The computed cache entries whose stage and input are this article's."""
    wanted = {(stage, text_hash(text)) for stage, text in it.stage_inputs().items()}
    return [e for e in entries if (e.stage, e.input_hash) in wanted]


def compute_items(stages: Stages, items: list[Item]) -> list[Item]:
    """What a worker does with one wave: the articles, filled in, each carrying the cache
    entries computed for it. Never raises: a failure becomes each unfinished article's error,
    so one bad article or model cannot fail the whole job."""
    try:
        ensure_present(stages.plan(items), stages.settings)
        stages.process(items)
    except Exception as exc:
        where = f"worker on {socket.gethostname()}"
        for it in items:
            finished = it.summary is not None and all(
                t in it.translations for t in stages.settings.targets
            )
            if it.error is None and not finished:
                it.fail(where, exc)
    cache = stages.cache
    entries = cache.take() if isinstance(cache, RecordingCache) else []
    return [dataclasses.replace(shippable(it), entries=_entries_for(it, entries)) for it in items]


class ArticleWorker:
    """One actor of the pool: its own stages over a recording cache, built once."""

    def __init__(self, settings: Settings, catalog: Catalog, version: str) -> None:
        from summarize._version import __version__

        if version != __version__:
            raise ConfigError(
                f"node {socket.gethostname()} has summarize {__version__} but the driver has "
                f"{version}; install the same version on every node"
            )
        self.stages = Stages(settings, catalog, RecordingCache())

    def loaded(self) -> tuple[int, list[str]]:
        """This worker's process id and the models it has loaded (a kept pool shows the same
        ones batch after batch)."""
        from summarize.engines import loaded_models

        return os.getpid(), [str(p) for p in loaded_models()]

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[bytes]]:
        """One row is one wave of jobs; one row comes back per article."""
        out: list[bytes] = []
        for blob in batch["wave"]:
            out += [pickle.dumps(it) for it in compute_items(self.stages, pickle.loads(blob))]
        return {"done": out}


# ---------------------------------------------------------------------------
# The driver's side


def _absolute(value: str) -> str:
    return str(Path(value).expanduser().resolve()) if looks_like_path(value) else value


def size_pool(node_cpus: list[float], workers: int, cpus: float) -> tuple[int, float]:
    """How many workers, and how many CPUs each, on nodes with these CPUs.

    Both given: checked. Only `workers`: the most CPUs each that still places them all (a
    node of C CPUs holds C // cpus workers). Neither: one worker per node, each the size of
    the smallest node. Raises ClusterError, with the numbers, when the request cannot fit,
    rather than letting the pool wait forever."""
    nodes = [c for c in node_cpus if c >= 1]
    total, largest = sum(nodes), max(nodes, default=0.0)
    if cpus > 0:
        if cpus > largest:
            raise ClusterError(
                f"no node of the Ray cluster has {cpus:g} CPUs (the largest has {largest:g}); "
                "lower --cpus-per-worker"
            )
        workers = workers or max(1, int(total // cpus))
        if workers * cpus > total:
            raise ClusterError(
                f"{workers} workers x {cpus:g} CPUs need {workers * cpus:g} CPUs but the Ray "
                f"cluster has {total:g}; lower --workers or --cpus-per-worker"
            )
        return workers, cpus
    if workers:
        for size in range(int(largest), 0, -1):
            if sum(int(c // size) for c in nodes) >= workers:
                return workers, float(size)
        raise ClusterError(
            f"{workers} workers need at least {workers} CPUs but the Ray cluster has "
            f"{total:g}; lower --workers"
        )
    if not nodes:
        raise ClusterError("the Ray cluster has no node with a CPU")
    return len(nodes), float(int(min(nodes)))


def worker_settings(settings: Settings, cpus: float | None = None) -> Settings:
    """The settings as a worker must see them: every path absolute (workers run in another
    folder) and one thread per CPU the worker holds."""

    def path(p: Path | None) -> Path | None:
        return p.expanduser().resolve() if p is not None else None

    return dataclasses.replace(
        settings,
        output_dir=settings.output_dir.expanduser().resolve(),
        models_dir=settings.models_dir.expanduser().resolve(),
        catalog_path=path(settings.catalog_path),
        cache_path=path(settings.cache_path),
        summarizer=_absolute(settings.summarizer),
        summarizers={k: _absolute(v) for k, v in settings.summarizers.items()},
        translators={k: _absolute(v) for k, v in settings.translators.items()},
        fallback=_absolute(settings.fallback),
        threads=settings.threads or max(1, math.floor(cpus or settings.cpus_per_worker)),
    )


class RayExecutor:
    """Connects to a cluster (or starts a one-machine Ray) on first use, disconnects on close."""

    name = "ray"

    def __init__(self, settings: Settings, *, keep_pool: bool = False) -> None:
        """`keep_pool`: for long-lived processes (serve, watch), one pool of actors is made on
        the first batch and kept, models loaded, for the next; a dead pool is rebuilt. A
        one-shot run streams its waves through Ray Data instead."""
        self.settings = settings
        self.keep_pool = keep_pool
        self._actors: list[Any] = []
        self._actor_shape: tuple[int, float] = (0, 0.0)
        self.ray = import_ray()
        self._connected = False
        self._owner = False
        self._warnings: list[str] = []
        self._said_idle = False

    def _connect(self) -> None:
        if self._connected:
            return
        ray = self.ray
        if self.settings.ray_address.startswith("ray://"):
            raise ClusterError(
                f"--ray-address {self.settings.ray_address}: Ray Data does not run through Ray "
                "Client (ray://) in Ray 2.60; run the driver on a cluster node with "
                "--ray-address auto, or submit it as a Ray job: ray job submit --address "
                "http://HEAD:8265 -- summarize run SOURCES --executor ray --ray-address auto"
            )
        if not ray.is_initialized():
            # "local" starts a one-machine Ray; None would join any cluster Ray finds running.
            address = self.settings.ray_address or "local"
            # Ray's C++ core logs to this process's stderr (notices about object-store
            # arguments, network probes); errors that matter reach us as exceptions.
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
            try:
                ray.init(
                    address=address,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    configure_logging=False,
                )
            except Exception as exc:  # ConnectionError, RuntimeError, ValueError from Ray
                where = "a new local Ray" if address == "local" else address
                raise ClusterError(
                    f"cannot connect to the Ray cluster at {where}: {exc}; start one with "
                    "`ray start --head`, or check --ray-address"
                ) from None
            self._owner = True
        # The CLI draws its own progress bar and summary; Ray Data's bars and its INFO lines
        # ("execution finished") would interleave with them. The notice that the bars are off
        # is a warning, so its own logger is raised further.
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        if not self.settings.verbose:
            self._log_to_file(ray_log_path(self.settings))
        context = self.ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.wait_for_min_actors_s = START_TIMEOUT_S
        self._connected = True

    @staticmethod
    def _log_to_file(path: Path) -> None:
        """Ray's Python loggers write to `path` instead of the terminal."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name in ("ray", "ray.data"):
            logger = logging.getLogger(name)
            for old in list(logger.handlers):
                if type(old) is logging.StreamHandler:
                    logger.removeHandler(old)
            logger.addHandler(handler)
            logger.propagate = False

    def _pool(self) -> tuple[int, float]:
        """Workers and CPUs each, sized on the cluster's live nodes (see `size_pool`)."""
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        cpus = [float(n.get("Resources", {}).get("CPU", 0)) for n in nodes]
        return size_pool(cpus, self.settings.workers, self.settings.cpus_per_worker)

    def run(self, stages: Stages, items: list[Item]) -> Iterator[Item]:
        if not items:
            return
        self._connect()
        from summarize._version import __version__

        ray = self.ray
        workers, cpus = self._pool()
        # One row per wave: Ray Data's batches are then exactly the local executor's waves.
        rows = [
            {"wave": pickle.dumps([shippable(it) for it in wave])}
            for wave in waves(items, self.settings.batch_size)
        ]
        if len(rows) < workers and not self._said_idle:
            self._said_idle = True
            self._warnings.append(
                f"{len(rows)} waves of articles for {workers} Ray workers: only {len(rows)} "
                "started (lower --batch-size to spread a small batch over more workers)"
            )
        settings = worker_settings(self.settings, cpus)
        catalog = dataclasses.replace(stages.catalog, models_dir=settings.models_dir)
        retries = self.settings.worker_retries
        if self.keep_pool:
            yield from self._run_on_kept_pool(rows, items, settings, catalog, workers, cpus)
            return
        workers = min(workers, len(rows))
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        with warnings.catch_warnings():
            # max_restarts / max_task_retries are the only way to bound retries in Ray Data
            # 2.60 (its default is to retry forever), though they come with a deprecation.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
            dataset = dataset.map_batches(
                ArticleWorker,
                fn_constructor_kwargs={
                    "settings": settings,
                    "catalog": catalog,
                    "version": __version__,
                },
                batch_size=1,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=cpus,
                num_gpus=1 if self.settings.device.startswith("cuda") else 0,
                max_restarts=retries,
                max_task_retries=retries,
            )
        pending = {it.index: it for it in items}
        try:
            for row in dataset.iter_rows():
                done = _returned(row["done"])
                del pending[done.index]
                yield done
        except Exception as exc:  # the job failed: retries spent, or the cluster went away
            yield from self._lost(pending, exc, "the Ray job stopped", "run again")

    # -- a kept pool, for serve and watch ------------------------------------------------------

    def pool(self, settings: Settings, catalog: Catalog, workers: int, cpus: float) -> list[Any]:
        """The kept actors: made once, checked alive before each batch, rebuilt when one has
        died (its restarts spent) or the cluster's size asks for another shape."""
        ray = self.ray
        from summarize._version import __version__

        if self._actors and self._actor_shape == (workers, cpus):
            try:
                ray.get([a.loaded.remote() for a in self._actors], timeout=START_TIMEOUT_S)
                return self._actors
            except Exception:  # RayActorError, GetTimeoutError: rebuild
                self._warnings.append("a Ray worker of the kept pool died: the pool was rebuilt")
        self.drop_pool()
        retries = self.settings.worker_retries
        actor = ray.remote(ArticleWorker).options(
            num_cpus=cpus,
            num_gpus=1 if self.settings.device.startswith("cuda") else 0,
            max_restarts=retries,
            max_task_retries=retries,
        )
        self._actors = [actor.remote(settings, catalog, __version__) for _ in range(workers)]
        self._actor_shape = (workers, cpus)
        return self._actors

    def drop_pool(self) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(actor)
        self._actors = []

    def _run_on_kept_pool(
        self,
        rows: list[dict[str, bytes]],
        items: list[Item],
        settings: Settings,
        catalog: Catalog,
        workers: int,
        cpus: float,
    ) -> Iterator[Item]:
        from ray.util import ActorPool

        pending = {it.index: it for it in items}
        try:
            actors = self.pool(settings, catalog, workers, cpus)
            jobs = ActorPool(actors).map_unordered(
                lambda actor, row: actor.__call__.remote({"wave": [row["wave"]]}), rows
            )
            for out in jobs:
                for blob in out["done"]:
                    done = _returned(blob)
                    del pending[done.index]
                    yield done
        except Exception as exc:  # a worker died past its restarts, or the cluster went away
            self.drop_pool()
            yield from self._lost(pending, exc, "the Ray pool failed", "submit it again")

    def _lost(
        self, pending: dict[int, Item], exc: BaseException, what: str, retry: str
    ) -> Iterator[Item]:
        """The articles that did not come back, each failed with why and what to do."""
        message = _first_line(exc)
        self._warnings.append(f"{what}: {message}")
        error = ClusterError(
            f"{what} before this article came back ({message}); {retry} to resume from the cache"
        )
        for it in list(pending.values()):
            it.fail("cluster", error)
            yield it

    def warnings(self) -> list[str]:
        out, self._warnings = self._warnings, []
        return out

    def close(self) -> None:
        if self._actors and self.ray.is_initialized():
            self.drop_pool()
        if self._owner and self.ray.is_initialized():
            self.ray.shutdown()
        self._owner = self._connected = False


def _returned(blob: bytes) -> Item:
    """An article a worker of this run sent back (data our own workers made, never a file)."""
    item: Item = pickle.loads(blob)
    return item


def ray_log_path(settings: Settings) -> Path:
    """Where Ray's own notices go when the run is not --verbose."""
    return settings.output_dir / "ray.log"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
