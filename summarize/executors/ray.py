"""The Ray executor: the cache's misses go out to a pool of Ray actors, spread over the nodes.

Each actor builds the stages once (models load on first use and stay loaded) and computes whole
articles, so nothing crosses the network between stages. Each task is one wave of articles,
formed as the local executor forms them (longest first, `batch_size` at a time), so both
compute the same batches and give the same results. Results stream back as waves finish, keyed
by article, and the driver stores and writes each as it arrives. An article that raises comes
back as that article's error; a worker that dies is restarted and its wave retried; a node
that leaves the cluster fails the pool, which is rebuilt on the nodes still alive and given
what had not come back; each a bounded number of times. Only the driver touches SQLite.

Ray Data's actor pools were used first, but when a node was lost they kept the failed job's
actors (and their CPUs) alive, so the retried job could not start: the pool here is ours to
kill.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import math
import os
import pickle
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from summarize.cache import CacheEntry, RecordingCache
from summarize.catalog import Catalog, looks_like_path
from summarize.config import Settings
from summarize.errors import ClusterError, ConfigError
from summarize.executors import waves
from summarize.hub import ensure_present
from summarize.plan import Plan
from summarize.stages import Item, Stages
from summarize.text import text_hash
from summarize.types import Placement

INSTALL = "pip install 'summarize[ray]'"
# How long a worker pool may take to start before the run fails (not enough CPUs, say).
START_TIMEOUT_S = 300
# How often the driver, waiting on its workers, checks that their nodes are still alive.
NODE_CHECK_S = 2.0


def import_ray() -> Any:
    """Ray, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"--executor ray needs Ray, which is not installed here: {INSTALL}"
        ) from None
    return ray


# ---------------------------------------------------------------------------
# The worker's side: articles travel as `Item`s, pickled (same package on both ends), without
# their plan (model objects stay where they were built); each worker plans them again.


def shippable(it: Item) -> Item:
    """An article as it goes out or comes back: no plan, no deferred flag, placed nowhere."""
    return dataclasses.replace(it, plan=None, deferred=False, placement=None)


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
    """One actor of the pool: its stages over a recording cache, built once per set of target
    languages (a kept pool serves every job, whatever its targets; the models themselves load
    once per process and are shared by all of them)."""

    def __init__(self, settings: Settings, catalog: Catalog, version: str) -> None:
        from summarize._version import __version__

        if version != __version__:
            raise ConfigError(
                f"node {socket.gethostname()} has summarize {__version__} but the driver has "
                f"{version}; install the same version on every node"
            )
        self.settings, self.catalog = settings, catalog
        self.stages = Stages(Plan(settings, catalog), RecordingCache())
        self._by_targets: dict[tuple[str, ...], Stages] = {settings.targets: self.stages}

    def stages_for(self, targets: tuple[str, ...]) -> Stages:
        if targets not in self._by_targets:
            settings = dataclasses.replace(self.settings, targets=targets)
            self._by_targets[targets] = Stages(Plan(settings, self.catalog), RecordingCache())
        return self._by_targets[targets]

    def node(self) -> str:
        """The Ray node this worker runs on (answered once it has started)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def loaded(self) -> tuple[int, list[str]]:
        """This worker's process id and the models it has loaded (a kept pool shows the same
        ones batch after batch)."""
        from summarize.engines import loaded_models

        return os.getpid(), [str(p) for p in loaded_models()]

    def __call__(
        self, number: int, wave: bytes, targets: tuple[str, ...] | None = None
    ) -> list[bytes]:
        """One wave of articles in (for these target languages); each article back, saying
        where it ran."""
        import ray

        started = time.perf_counter()
        from summarize.engines.ct2 import release_memory

        stages = self.stages_for(tuple(targets)) if targets else self.stages
        done = compute_items(stages, pickle.loads(wave))
        release_memory()  # a kept worker serves wave after wave
        placement = Placement(
            node=ray.get_runtime_context().get_node_id(),
            host=socket.gethostname(),
            pid=os.getpid(),
            wave=number,
            wave_seconds=round(time.perf_counter() - started, 4),
        )
        return [pickle.dumps(dataclasses.replace(it, placement=placement)) for it in done]


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
        the first batch and kept, models loaded, for the next, whatever each batch's target
        languages (each wave names its own); a dead pool is rebuilt. A one-shot run makes its
        pool for the run and drops it at the end."""
        self.settings = settings
        self.keep_pool = keep_pool
        self._actors: list[Any] = []
        self._node_of: dict[Any, str] = {}  # each started actor's node
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
                f"--ray-address {self.settings.ray_address}: Ray Client (ray://) is not "
                "supported; run the driver on a cluster node with "
                "--ray-address auto, or submit it as a Ray job: ray job submit --address "
                "http://HEAD:8265 -- summarize run SOURCES --executor ray --ray-address auto"
            )
        handler = None if self.settings.verbose else _file_handler(ray_log_path(self.settings))
        if not ray.is_initialized():
            # "local" starts a one-machine Ray; None would join any cluster Ray finds running.
            address = self.settings.ray_address or "local"
            # Ray's C++ core logs to this process's stderr (notices about object-store
            # arguments, network probes); errors that matter reach us as exceptions.
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
            # ray.init clears the "ray" logger's handlers when it is not to configure logging,
            # so its notices while starting (token auth turned on, say) would fall to logging's
            # last resort, stderr: during init, that is ray.log.
            last_resort = logging.lastResort
            logging.lastResort = handler or last_resort
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
            finally:
                logging.lastResort = last_resort
            self._owner = True
        if handler is not None:
            _log_to(handler)
            _route_cluster_notices()
        self._connected = True

    def _alive(self) -> list[dict[str, Any]]:
        """The cluster's live nodes, as Ray lists them."""
        return [n for n in self.ray.nodes() if n.get("Alive")]

    def _pool(self, shrink: bool = False) -> tuple[int, float]:
        """Workers and CPUs each, sized on the cluster's live nodes (see `size_pool`).
        `shrink`: after a node was lost, as many of those workers as the rest still holds."""
        cpus = [float(n.get("Resources", {}).get("CPU", 0)) for n in self._alive()]
        try:
            return size_pool(cpus, self.settings.workers, self.settings.cpus_per_worker)
        except ClusterError:
            if not shrink:
                raise
        return size_pool(cpus, 0, self.settings.cpus_per_worker)

    def run(self, stages: Stages, items: list[Item]) -> Iterator[Item]:
        """Every article, as it comes back. When the job or pool fails (a node lost, say), what
        has not come back goes out again, as the same waves, to the nodes still alive, up to
        `worker_retries` times; past that each is failed with how to resume."""
        if not items:
            return
        self._connect()
        # One task per wave: exactly the local executor's waves.
        rows: list[dict[str, Any]] = []
        members: list[set[int]] = []
        for number, wave in enumerate(waves(items, self.settings.batch_size)):
            rows.append(
                {
                    "number": number,
                    "wave": pickle.dumps([shippable(it) for it in wave]),
                    "targets": tuple(stages.settings.targets),
                }
            )
            members.append({it.index for it in wave})
        workers, cpus = self._pool()  # a request that cannot fit stops here, in one line
        if len(rows) < workers and not self._said_idle:
            self._said_idle = True
            self._warnings.append(
                f"{len(rows)} waves of articles for {workers} Ray workers: only {len(rows)} "
                "started (lower --batch-size to spread a small batch over more workers)"
            )
        what, retry = (
            ("the Ray pool failed", "submit it again")
            if self.keep_pool
            else ("the Ray job stopped", "run again")
        )
        pending = {it.index: it for it in items}
        retries = self.settings.worker_retries
        for attempt in range(retries + 1):
            todo = [row for row, ids in zip(rows, members, strict=True) if ids & pending.keys()]
            try:
                if attempt:  # sized again on the nodes still alive
                    workers, cpus = self._pool(shrink=True)
                settings = worker_settings(self.settings, cpus)
                catalog = dataclasses.replace(stages.catalog, models_dir=settings.models_dir)
                # A one-shot run starts no worker it has no wave for; a kept pool is made to size.
                size = workers if self.keep_pool else min(workers, len(todo))
                shape = (settings, catalog, size, cpus)
                for done in self._on_pool(todo, *shape):
                    del pending[done.index]
                    yield done
                if not self.keep_pool:
                    self.drop_pool()
                return
            except Exception as exc:  # a worker past its restarts, a node lost, no cluster
                failure = _first_line(exc)
            self.drop_pool()
            if attempt < retries:
                self._warnings.append(
                    f"{what} ({failure}): {len(pending)} articles sent again to the nodes "
                    f"still alive (retry {attempt + 1} of {retries})"
                )
        yield from self._lost(pending, failure, what, retry)

    # -- the pool -------------------------------------------------------------------------------

    def pool(self, settings: Settings, catalog: Catalog, workers: int, cpus: float) -> list[Any]:
        """The actors: made on the first batch and, for a kept pool (serve, watch), checked
        alive before each later one and rebuilt when one has died (its restarts spent) or the
        cluster's size asks for another shape."""
        ray = self.ray
        from summarize._version import __version__

        if self._actors and self._actor_shape == (workers, cpus):
            try:
                self._check_nodes()
                ray.get([a.loaded.remote() for a in self._actors], timeout=60)
                return self._actors
            except Exception:  # ClusterError, RayActorError, GetTimeoutError: rebuild
                self._warnings.append("a Ray worker of the kept pool died: the pool was rebuilt")
        self.drop_pool()
        retries = self.settings.worker_retries
        actor = ray.remote(ArticleWorker).options(
            num_cpus=cpus,
            num_gpus=1 if self.settings.device.startswith("cuda") else 0,
            max_restarts=retries,
            max_task_retries=retries,
            # One worker per node before two on one.
            scheduling_strategy="SPREAD",
        )
        self._actors = [actor.remote(settings, catalog, __version__) for _ in range(workers)]
        self._actor_shape = (workers, cpus)
        return self._actors

    def drop_pool(self) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(actor)
        self._actors = []
        self._node_of = {}

    def _on_pool(
        self,
        rows: list[dict[str, Any]],
        settings: Settings,
        catalog: Catalog,
        workers: int,
        cpus: float,
    ) -> Iterator[Item]:
        """The waves through the pool's actors, streamed back as they finish. A worker takes
        waves once it has started (the rest need not wait for a slow or unplaceable one); while
        waiting, the driver checks that the workers' nodes are alive, and a lost one fails the
        pool (Ray would wait for the lost worker's restart, which may never find room)."""
        ray = self.ray
        actors = self.pool(settings, catalog, workers, cpus)
        starting = {actor.node.remote(): actor for actor in actors if actor not in self._node_of}
        free = [actor for actor in actors if actor in self._node_of]
        todo = list(reversed(rows))  # popped from the end: first wave first
        running: dict[Any, Any] = {}
        began = next_check = time.monotonic()
        while todo or running:
            while todo and free:
                actor = free.pop()
                row = todo.pop()
                call = actor.__call__.remote(row["number"], row["wave"], row["targets"])
                running[call] = actor
            ready, _ = ray.wait([*running, *starting], num_returns=1, timeout=NODE_CHECK_S)
            now = time.monotonic()
            if now >= next_check:
                self._check_nodes()
                next_check = now + NODE_CHECK_S
            if not ready:
                if not running and not free and now - began > START_TIMEOUT_S:
                    raise ClusterError(
                        f"no Ray worker started in {START_TIMEOUT_S} s: the cluster may not "
                        "have the CPUs (or GPUs) the pool asks for"
                    )
                continue
            ref = ready[0]
            if ref in starting:
                actor = starting.pop(ref)
                self._node_of[actor] = ray.get(ref)
                free.append(actor)
                continue
            free.append(running.pop(ref))
            for blob in ray.get(ref):
                yield _returned(blob)

    def _check_nodes(self) -> None:
        """ClusterError when a node a worker runs on has left the cluster."""
        alive = {n["NodeID"] for n in self._alive()}
        lost = sorted(set(self._node_of.values()) - alive)
        if lost:
            raise ClusterError(f"node {lost[0][:12]} left the Ray cluster")

    def _lost(
        self, pending: dict[int, Item], message: str, what: str, retry: str
    ) -> Iterator[Item]:
        """The articles that did not come back, each failed with why and what to do."""
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


def _file_handler(path: Path) -> logging.Handler:
    """Where Ray's notices go when the run is not --verbose: the output folder's ray.log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    return handler


def _log_to(handler: logging.Handler) -> None:
    """Ray's Python loggers write to `handler` instead of the terminal."""
    logger = logging.getLogger("ray")
    for old in list(logger.handlers):
        # Ray's console handlers (PlainRayHandler) write to stderr; file handlers stay.
        if isinstance(old, logging.StreamHandler) and not isinstance(old, logging.FileHandler):
            logger.removeHandler(old)
    logger.addHandler(handler)
    logger.propagate = False


def _route_cluster_notices() -> None:
    """The driver's listener for cluster-wide notices (a task retried, a raylet gone) prints
    them on stdout whatever `log_to_driver` says; they go to Ray's logger, so to ray.log.
    A private hook of Ray 2.60, left alone if it is not there."""
    worker: Any = importlib.import_module("ray._private.worker")
    if not callable(getattr(worker, "print_to_stdstream", None)):
        return
    log = logging.getLogger("ray")

    def to_log(data: Mapping[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            log.warning("(%s) %s", data.get("pid", "ray"), line)

    worker.print_to_stdstream = to_log


def _returned(blob: bytes) -> Item:
    """An article a worker of this run sent back (data our own workers made, never a file)."""
    item: Item = pickle.loads(blob)
    return item


def ray_log_path(settings: Settings) -> Path:
    """Where Ray's own notices go when the run is not --verbose."""
    return settings.output_dir / "ray.log"


def _first_line(exc: BaseException) -> str:
    """The exception's first sentence, short enough for a warning or an article's error."""
    line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return line.split(". ")[0][:200]
