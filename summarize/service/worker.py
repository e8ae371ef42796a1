"""The one thread that owns all model work: single requests (batched together) before jobs,
so the event loop never blocks and each model is in memory once."""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from summarize.config import Settings
from summarize.errors import InputError, SummarizeError
from summarize.service.jobs import JobStore


class Worker:
    """Runs all model work on one thread: single requests (batched together) before jobs."""

    def __init__(self, settings: Settings, store: JobStore) -> None:
        from summarize.ingest import Reader

        self.settings = settings
        self.store = store
        self.reader = Reader(settings)
        self.singles: queue.Queue[tuple[dict[str, Any], tuple[str, ...], Future[Any]]] = (
            queue.Queue()
        )
        self.jobs: deque[str] = deque(store.unfinished())
        self.wake = threading.Event()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.failure: str | None = None
        self._pipelines: dict[tuple[str, ...], Any] = {}
        self._executor: Any = None  # shared by the pipelines of every target set
        self.thread = threading.Thread(target=self._loop, name="summarize-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=30)
        for pipeline in self._pipelines.values():
            pipeline.close()

    def depth(self) -> int:
        return self.singles.qsize() + len(self.jobs)

    def submit(self, article: dict[str, Any], targets: tuple[str, ...]) -> Future[Any]:
        future: Future[Any] = Future()
        self.singles.put((article, targets, future))
        self.wake.set()
        return future

    def submit_job(self, job_id: str) -> None:
        self.jobs.append(job_id)
        self.wake.set()

    # -- the thread ---------------------------------------------------------------

    def pipeline(self, targets: tuple[str, ...]) -> Any:
        from summarize.executors import get_executor
        from summarize.runner import Pipeline

        if targets not in self._pipelines:
            # One executor for every target set: on Ray, one kept pool sized to the cluster
            # serves them all (a second pool could not be placed beside the first).
            if self._executor is None:
                self._executor = get_executor(self.settings, long_lived=True)
            settings = replace(self.settings, targets=targets)
            self._pipelines[targets] = Pipeline(settings, executor=self._executor)
        return self._pipelines[targets]

    def _article(self, obj: dict[str, Any], idx: int, source: str) -> Any:
        from summarize.ingest import headline, iso_date

        published = obj.get("published")
        return self.reader.article(
            article_id(obj, idx),
            obj["text"],
            source,
            # A headline from the first line, as the CLI finds it in a plain-text file.
            title=obj.get("title") or headline(obj["text"]),
            url=obj.get("url"),
            lang=obj.get("lang"),
            published=iso_date(published) if isinstance(published, (str, int, float)) else None,
        )

    def _loop(self) -> None:
        try:
            self._warm_up()
        except Exception as exc:  # reported by /readyz; requests get the same message
            self.failure = str(exc)
        self.ready.set()
        while not self.stopping.is_set():
            self.wake.wait(timeout=0.5)
            self.wake.clear()
            while not self.stopping.is_set() and (not self.singles.empty() or self.jobs):
                if not self.singles.empty():
                    self._serve_singles()
                else:
                    self._work_on_job(self.jobs[0])

    def _warm_up(self) -> None:
        """Load the default models now, so /readyz means ready."""
        pipeline = self.pipeline(self.settings.targets)
        article = self.reader.article(
            "warm-up",
            "The service is starting and loads its models with this sentence.",
            "warm-up",
            lang=self.settings.pivot_lang,
        )
        pipeline.run_batch([article], write=False)

    def _serve_singles(self) -> None:
        batch: dict[tuple[str, ...], list[tuple[Any, Future[Any]]]] = {}
        taken = 0
        while taken < self.settings.batch_size:
            try:
                obj, targets, future = self.singles.get_nowait()
            except queue.Empty:
                break
            taken += 1
            try:
                batch.setdefault(targets, []).append(
                    (self._article(obj, taken, obj.get("id") or "request"), future)
                )
            except InputError as exc:
                future.set_exception(exc)
        for targets, entries in batch.items():
            try:
                report = self.pipeline(targets).run_batch([a for a, _ in entries], write=False)
            except Exception as exc:
                for _, future in entries:
                    future.set_exception(exc)
                continue
            by_article = {_key(r.article): r for r in report.results}
            failures = {o.id: o.error for o in report.failed}
            for article, future in entries:
                result = by_article.get(_key(article))
                if result is not None:
                    future.set_result(result)
                else:
                    error = failures.get(article.id)
                    future.set_exception(SummarizeError(error.message if error else "failed"))

    def _work_on_job(self, job_id: str) -> None:
        from summarize.errors import InputError as _InputError
        from summarize.types import result_json

        info = self.store.get(job_id)
        if info is None or info["status"] in ("done", "cancelled"):
            self.jobs.popleft()
            return
        self.store.set_status(job_id, "running")
        articles = self.store.articles(job_id)
        finished = self.store.finished_indexes(job_id)
        todo = [i for i in range(len(articles)) if i not in finished][: self.settings.batch_size]
        if not todo:
            self.store.set_status(job_id, "done")
            self.jobs.popleft()
            return
        wave = []
        for i in todo:
            try:
                wave.append((i, self._article(articles[i], i, f"job:{job_id}[{i}]")))
            except _InputError as exc:
                self.store.record(
                    job_id,
                    i,
                    articles[i].get("id"),
                    "error",
                    {"type": "InputError", "message": exc.reason},
                )
        if wave:
            report = self.pipeline(tuple(info["targets"])).run_batch(
                [a for _, a in wave], write=False
            )
            results = {_key(r.article): r for r in report.results}
            errors = {o.id: o.error for o in report.failed}
            self._keep_stories(job_id, articles, report.stories)
            for i, article in wave:
                if _key(article) in results:
                    self.store.record(
                        job_id, i, article.id, "ok", result_json(results[_key(article)])
                    )
                else:
                    error = errors.get(article.id)
                    self.store.record(
                        job_id,
                        i,
                        article.id,
                        "error",
                        {
                            "type": error.type if error else "Error",
                            "message": error.message if error else "failed",
                        },
                    )

    def _keep_stories(
        self, job_id: str, articles: list[dict[str, Any]], stories: list[dict[str, Any]]
    ) -> None:
        """The stories (of two or more, with a summary) that this job's articles are in."""
        from summarize.review import machine_doc

        ids = {article_id(obj, i) for i, obj in enumerate(articles)}
        mine = []
        for s in stories:
            members = [m for m in s.get("members", []) if m["id"] in ids]
            if s.get("size", 0) >= 2 and "summary" in s and members:
                # This job's members are listed; the others in the folder are counted.
                doc = machine_doc(s)
                doc["members"] = members
                doc["more_in_folder"] = len(s["members"]) - len(members)
                mine.append(doc)
        if mine:
            self.store.set_stories(job_id, mine)


def article_id(obj: dict[str, Any], idx: int) -> str:
    """A job article's id: the one given, else its place in the job."""
    return str(obj.get("id") or f"article-{idx}")


def _key(article: Any) -> tuple[str, str]:
    """An article by id and text: results computed elsewhere (Ray) come back as copies."""
    return (article.id, article.hash)
