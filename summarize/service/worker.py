"""The one thread that owns all model work: single requests (batched together) before jobs,
so the event loop never blocks and each model is in memory once.

Nothing an article does can stop it. Each wave of a job runs inside an error boundary: when a
wave fails as a whole, its articles are run one at a time so the bad one fails alone, with its
reason. A wave during which the process died (a crash, a kill) is found at the next start: the
job goes on one article at a time, an article the worker died on is failed, and a job that
stopped the worker MAX_CRASHES times is failed. The thread itself is supervised: an error that
escapes a step is logged and the loop goes on; `/readyz` reports a thread that is gone, and
`ensure_alive` starts a new one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from summarize.config import Settings
from summarize.errors import InputError, SummarizeError
from summarize.service.jobs import FINAL, JobStore

log = logging.getLogger("summarize.service")
# A job during whose waves the worker died this many times is failed, not retried for ever.
MAX_CRASHES = 3
# How long a stopping service waits for the model work in hand before it exits anyway.
STOP_WAIT_S = 5.0


class ServiceStopping(SummarizeError):
    """The service is shutting down: the request was not processed; send it again."""


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
        self.failure: str | None = None  # models could not be loaded: not ready
        self.errors = 0  # errors the supervisor caught (each logged with its traceback)
        self.restarts = 0  # threads started anew after one was found gone
        self.last_error: str | None = None
        self._summarizer: Any = None  # the one core every face drives (summarize.api)
        self._executor: Any = None  # shared by the pipelines of every target set
        self._lock = threading.Lock()
        # Told of each job that ends and each story a job grows (the service's webhooks).
        self.on_event: Callable[[str, dict[str, Any], str | None], Any] | None = None
        self.thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._supervised, name="summarize-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def ensure_alive(self) -> bool:
        """Start a new thread when the last one is gone (True when one had to be)."""
        with self._lock:
            if self.stopping.is_set() or self.thread.is_alive() or not self.ready.is_set():
                return False
            log.error("the worker thread had stopped (%s); starting a new one", self.last_error)
            self.restarts += 1
            self.thread = self._new_thread()
            self.thread.start()
            return True

    def stop(self) -> None:
        """Stop within seconds: requests waiting are answered (ServiceStopping), the model
        work in hand gets STOP_WAIT_S to finish, and jobs resume at the next start."""
        self.stopping.set()
        self.wake.set()
        self._drain_singles()
        if self.thread.ident is not None:  # started
            self.thread.join(timeout=STOP_WAIT_S)
        if self.thread.is_alive():
            log.warning("the worker is still busy with a model; exiting without waiting for it")
            if self.jobs:  # a stop asked for is no crash: the wave is simply done again
                try:
                    self.store.end_wave(self.jobs[0])
                except Exception:
                    log.exception("could not clear the wave in flight")
            return  # a daemon thread: it ends with the process; closing under it would crash
        if self._summarizer is not None:
            self._summarizer.close(models=False)
            self._summarizer = None

    def _drain_singles(self) -> None:
        while True:
            try:
                _, _, future = self.singles.get_nowait()
            except queue.Empty:
                return
            if not future.done():
                future.set_exception(ServiceStopping("the service is stopping; send it again"))

    def depth(self) -> int:
        return self.singles.qsize() + len(self.jobs)

    def submit(self, article: dict[str, Any], targets: tuple[str, ...]) -> Future[Any]:
        future: Future[Any] = Future()
        if self.stopping.is_set():
            future.set_exception(ServiceStopping("the service is stopping; send it again"))
            return future
        self.singles.put((article, targets, future))
        self.ensure_alive()
        self.wake.set()
        return future

    def submit_job(self, job_id: str) -> None:
        self.jobs.append(job_id)
        self.ensure_alive()
        self.wake.set()

    # -- the thread ---------------------------------------------------------------

    def pipeline(self, targets: tuple[str, ...]) -> Any:
        from summarize.api import Summarizer
        from summarize.executors import get_executor

        if self._summarizer is None:
            # One executor for every target set: on Ray, one kept pool sized to the cluster
            # serves them all (a second pool could not be placed beside the first).
            if self._executor is None:
                self._executor = get_executor(self.settings, long_lived=True)
            self._summarizer = Summarizer(self.settings, executor=self._executor)
        return self._summarizer.pipeline(targets)

    def grouping_note(self) -> str | None:
        """What the service must say of its stories: joined without an embedder (same event,
        two languages, seldom one story), as `summarize run` says it once a run."""
        summarizer = self._summarizer
        if summarizer is None:
            return None
        for pipeline in list(summarizer._pipelines.values()):
            if pipeline.grouper.without_embedder:
                return str(pipeline.grouper.NO_EMBEDDER)
        return None

    def _article(self, obj: dict[str, Any], idx: int, source: str) -> Any:
        """A request's article, read as the CLI reads a JSON record (a date that is not one is
        an error naming it); a headline from the first line, as in a plain-text file."""
        from summarize.ingest import headline, record_date

        return self.reader.article(
            article_id(obj, idx),
            obj["text"],
            source,
            title=obj.get("title") or headline(obj["text"]),
            url=obj.get("url"),
            lang=obj.get("lang"),
            published=record_date(obj, source),
            outlet=obj.get("outlet"),
            author=obj.get("author"),
        )

    def _supervised(self) -> None:
        """The thread: warm up once, then steps; an error that escapes a step is logged and
        the loop goes on (a job it came from is failed, so it cannot come back for ever)."""
        if not self.ready.is_set():
            try:
                self._warm_up()
            except Exception as exc:  # reported by /readyz; requests get the same message
                log.exception("loading the models failed")
                self.failure = str(exc)
            self.ready.set()
        while not self.stopping.is_set():
            try:
                self._step()
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("the worker caught an error and goes on")
                self._fail_current_job(self.last_error)
                time.sleep(0.2)
            except BaseException as exc:  # SystemExit and the like: seen by /readyz
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise

    def _step(self) -> None:
        self.wake.wait(timeout=0.5)
        self.wake.clear()
        while not self.stopping.is_set() and (not self.singles.empty() or self.jobs):
            if not self.singles.empty():
                self._serve_singles()
            else:
                self._work_on_job(self.jobs[0])

    def _fail_current_job(self, reason: str) -> None:
        if not self.jobs:
            return
        job_id = self.jobs[0]
        try:
            info = self.store.get(job_id)
            if info is not None and info["status"] not in FINAL:
                self.store.fail(job_id, f"the worker failed on this job: {reason}")
                self._finished(job_id)
        except Exception:
            log.exception("could not mark job %s failed", job_id)
        if self.jobs and self.jobs[0] == job_id:
            self.jobs.popleft()

    def _warm_up(self) -> None:
        """Load the default models now, so /readyz means ready."""
        pipeline = self.pipeline(self.settings.targets)
        article = self.reader.article(
            "warm-up",
            "The service is starting and loads its models with this sentence.",
            "warm-up",
            lang=self.settings.pivot_lang,
        )
        pipeline.run_batch([article], write=False, group=False)

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
            except Exception as exc:  # InputError, or anything else: this request alone
                future.set_exception(exc)
        for targets, entries in batch.items():
            try:
                results, errors = self._run_wave(targets, [a for a, _ in entries])
            except Exception as exc:
                for _, future in entries:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for article, future in entries:
                result = results.get(_key(article))
                if result is not None:
                    future.set_result(result)
                else:
                    error = errors.get(_key(article))
                    future.set_exception(SummarizeError(error[1] if error else "failed"))

    def _run_wave(
        self,
        targets: tuple[str, ...],
        articles: list[Any],
        known: tuple[dict[str, Any], dict[str, str]] | None = None,
    ) -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], tuple[str, str]]]:
        """Run articles as one batch; when the batch fails as a whole, one at a time, so an
        article that breaks it fails alone. Returns results and (type, message) errors by
        article; the stories of the last batch run are in `self.wave_stories`."""
        pipeline = self.pipeline(targets)
        self.wave_stories: list[dict[str, Any]] = []
        try:
            docs, texts = known or ({}, {})
            reports = [
                pipeline.run_batch(articles, write=False, known_docs=docs, known_texts=texts)
            ]
        except Exception as exc:
            if len(articles) == 1:
                log.warning("article %s failed: %s", articles[0].id, exc, exc_info=True)
                return {}, {_key(articles[0]): _error_of(exc)}
            log.warning("a wave failed as a whole (%s); its articles one at a time", exc)
            results: dict[tuple[str, str], Any] = {}
            errors: dict[tuple[str, str], tuple[str, str]] = {}
            for article in articles:
                r, e = self._run_wave(targets, [article], known)
                results.update(r)
                errors.update(e)
            return results, errors
        results = {_key(r.article): r for r in reports[0].results}
        by_id = {a.id: _key(a) for a in articles}
        errors = {
            by_id[o.id]: (o.error.type, o.error.message)
            for o in reports[0].failed
            if o.id in by_id and o.error is not None
        }
        self.wave_stories = reports[0].stories
        return results, errors

    def _work_on_job(self, job_id: str) -> None:
        from summarize.documents import result_json

        info = self.store.get(job_id)
        if info is None or info["status"] in FINAL:
            self.jobs.popleft()
            return
        left, crashes = self.store.recover(job_id)
        if crashes >= MAX_CRASHES:
            self.store.fail(
                job_id,
                f"the service stopped {crashes} times while working on this job; "
                "it is not tried again (see the service's log)",
            )
            self._finished(job_id)
            self.jobs.popleft()
            return
        if left is not None and len(left) == 1:
            # The process died during this article alone: it is the one, and is not retried.
            i = left[0]
            self.store.record(
                job_id,
                i,
                article_id(self.store.articles(job_id)[i], i),
                "error",
                {
                    "type": "WorkerStopped",
                    "message": "the service stopped while processing this article; "
                    "it is not tried again (see the service's log)",
                },
            )
        self.store.set_status(job_id, "running")
        articles = self.store.articles(job_id)
        finished = self.store.finished_indexes(job_id)
        # After a crash, one article at a time, until the job is done.
        size = 1 if crashes else self.settings.batch_size
        todo = [i for i in range(len(articles)) if i not in finished][:size]
        if not todo:
            self.store.set_status(job_id, "done")
            self._finished(job_id)
            self.jobs.popleft()
            return
        self.store.begin_wave(job_id, todo)
        wave = []
        for i in todo:
            try:
                wave.append((i, self._article(articles[i], i, f"job:{job_id}[{i}]")))
            except InputError as exc:
                self.store.record(
                    job_id,
                    i,
                    articles[i].get("id"),
                    "error",
                    {"type": "InputError", "message": exc.reason},
                )
        if wave:
            known = self._job_docs(job_id, articles)
            results, errors = self._run_wave(tuple(info["targets"]), [a for _, a in wave], known)
            for i, article in wave:
                if _key(article) in results:
                    self.store.record(
                        job_id, i, article.id, "ok", result_json(results[_key(article)])
                    )
                else:
                    kind, message = errors.get(_key(article), ("Error", "failed"))
                    self.store.record(
                        job_id, i, article.id, "error", {"type": kind, "message": message}
                    )
            self._keep_stories(job_id, articles, self.wave_stories)
        self.store.end_wave(job_id)

    def _job_docs(
        self, job_id: str, articles: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The job's finished results and their texts by content hash: a story of this wave
        summarises (and checks) its members from earlier waves too."""
        from summarize.text import text_hash

        docs = {
            str(doc["hash"]): doc
            for doc in self.store.results(job_id)
            if "error" not in doc and "hash" in doc
        }
        texts = {}
        for obj in articles:
            text = str(obj.get("text") or "")
            h = text_hash(text)
            if h in docs:
                texts[h] = text
        return docs, texts

    def _keep_stories(
        self, job_id: str, articles: list[dict[str, Any]], stories: list[dict[str, Any]]
    ) -> None:
        """The stories (of two or more, with a summary) that this job's articles are in, kept
        beside those of the job's earlier waves (a later wave's document of a story replaces
        the earlier one: it lists every member so far)."""
        from summarize.review import machine_doc

        ids = {article_id(obj, i) for i, obj in enumerate(articles)}
        own = {str(d["id"]): d for d in self.store.results(job_id) if "error" not in d}
        mine = []
        for s in stories:
            members = [m for m in s.get("members", []) if m["id"] in ids]
            if s.get("size", 0) >= 2 and "summary" in s and members:
                # This job's members are listed; the others in the folder are counted.
                doc = machine_doc(s)
                for m in members:  # each member's own summary, from this job's results
                    if "summary" not in m and m["id"] in own:
                        m["summary"] = {
                            "text": own[m["id"]]["summary"]["text"],
                            "lang": own[m["id"]]["summary"]["lang"],
                        }
                        m["translations"] = {
                            t: tr["text"] for t, tr in own[m["id"]].get("translations", {}).items()
                        }
                doc["members"] = members
                doc["more_in_folder"] = len(s["members"]) - len(members)
                mine.append(doc)
        if mine:
            self.store.merge_stories(job_id, mine)
            for doc in mine:
                self._emit(
                    "story.changed",
                    {
                        "job": job_id,
                        "story": doc["id"],
                        "headline": doc.get("headline"),
                        "members": [m["id"] for m in doc["members"]],
                        "links": {"item": f"/v1/jobs/{job_id}/items/story:{doc['id']}"},
                    },
                    job_id,
                )

    def _finished(self, job_id: str) -> None:
        info = self.store.get(job_id) or {}
        self._emit(
            "job.finished",
            {
                "job": job_id,
                "status": info.get("status"),
                "done": info.get("done"),
                "failed": info.get("failed"),
                "total": info.get("total"),
                "links": {
                    "job": f"/v1/jobs/{job_id}",
                    "results": f"/v1/jobs/{job_id}/results",
                    "ninjs": f"/v1/jobs/{job_id}/results?format=ninjs",
                    "brief": f"/v1/jobs/{job_id}/brief.html",
                },
            },
            job_id,
        )

    def _emit(self, kind: str, data: dict[str, Any], job: str | None) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, data, job)
            except Exception:  # telling others never stops the work
                log.error("could not record the %s event", kind, exc_info=True)


def article_id(obj: dict[str, Any], idx: int) -> str:
    """A job article's id: the one given, else its place in the job."""
    return str(obj.get("id") or f"article-{idx}")


def _error_of(exc: BaseException) -> tuple[str, str]:
    """An exception as an article's error: its type, and a message that names it."""
    message = str(exc) if isinstance(exc, SummarizeError) else f"{type(exc).__name__}: {exc}"
    return type(exc).__name__, message


def _key(article: Any) -> tuple[str, str]:
    """An article by id and text: results computed elsewhere (Ray) come back as copies."""
    return (article.id, article.hash)
