"""The Python face, `summarize.Summarizer`, with the tiny models (random weights: no test reads
what they write): one article, a stream in input order held a batch at a time, two threads on
one object, a cached second call, the document `summarize run` writes, typed errors."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, tiny_overrides
from hypothesis import strategies as st

from summarize import (
    ConfigError,
    Failed,
    LanguageError,
    ModelNotAvailable,
    Result,
    Summarizer,
    load_settings,
    run,
)
from summarize.errors import InputError

SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]


def summarizer(tiny: dict[str, Path], tmp_path: Path, **extra: Any) -> Summarizer:
    overrides = tiny_overrides(tiny, tmp_path / "unused", **extra)
    overrides.pop("output_dir")
    return Summarizer(**overrides)


def test_one_article_typed_then_from_the_cache(tiny: dict[str, Path], tmp_path: Path) -> None:
    with summarizer(tiny, tmp_path, targets=["ar", "fr"]) as s:
        first = s.summarize(SEED_TEXTS[0], title="INTERPOL opens its assembly", id="a-1")
        assert isinstance(first, Result) and first.id == "a-1"
        assert first.language == "en" and 0 < first.confidence <= 1
        assert set(first.translations) == {"ar", "fr"} and first.summary
        assert set(first.titles) == {"ar", "fr"}
        assert first.models["summarize"].startswith("tiny-bart@")
        assert not first.cached["summarize"]
        again = s.summarize(SEED_TEXTS[0], title="INTERPOL opens its assembly", id="a-1")
        assert all(again.cached[stage] for stage in ("summarize", "translate:ar", "translate:fr"))
        assert again.summary == first.summary and again.translations == first.translations
        assert Result.from_dict(again.to_dict()) == again
        with pytest.raises(InputError, match="empty"):
            s.summarize("   ")


def test_to_dict_is_the_document_a_run_writes(tiny: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(SEED_TEXTS[1], encoding="utf-8")
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", targets=["fr"]))
    report = run([folder], settings)
    [outcome] = report.succeeded
    assert outcome.output is not None
    written = json.loads(Path(outcome.output).read_text(encoding="utf-8"))
    with Summarizer(settings) as s:  # the run's settings: its cache, its folder
        [got] = s.summarize_many(
            [{"id": "a.txt", "text": SEED_TEXTS[1], "title": written["title"]}]
        )
    assert isinstance(got, Result)
    doc = got.to_dict()
    assert all(p["cached"] for p in doc["provenance"].values() if p["engine"] != "none")
    for key in ("id", "language", "summary", "translations", "title_translations", "warnings"):
        assert doc[key] == written[key], key


def test_a_stream_keeps_its_order_and_a_bad_article_does_not_stop_it(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    texts: list[Any] = [f"{SEED_TEXTS[i % 5]}\n\nUpdate {i}." for i in range(40)]
    texts[7] = "12345 67890"  # no letters: no article
    texts[20] = {"id": "named", "text": SEED_TEXTS[2]}
    texts[31] = texts[30]  # the same copy twice in one batch
    with summarizer(tiny, tmp_path, targets=["fr"]) as s:
        results = []
        for pulled, got in enumerate(s.summarize_many(texts, batch_size=8), start=1):
            results.append(got)
            if pulled == 1:  # held a batch at a time: only the first has been summarised
                [pipeline] = s._pipelines.values()
                assert 1 <= pipeline.cache.computed["summarize"] <= 8
        assert len(results) == 40
        failed = [r for r in results if isinstance(r, Failed)]
        assert [f.id for f in failed] == ["text-8"] and isinstance(failed[0].error, InputError)
        with pytest.raises(InputError, match="no letters"):
            failed[0].raise_error()
        # named by their place in the whole stream, not in their batch
        ids = [f"text-{n}" for n in range(1, 41)]
        ids[20] = "named"
        assert [r.id for r in results] == ids
        assert isinstance(results[31], Result) and results[31].summary == results[30].summary


# What a stream may hold: articles, and things that are none (each with the error it gives).
GOOD = st.sampled_from(SEED_TEXTS[:2]).map(lambda t: ("ok", t))
BAD = st.sampled_from(
    [
        (InputError, None),
        (InputError, 7),
        (InputError, b"bytes are no text"),
        (InputError, {"title": "a mapping without text"}),
        (InputError, {"text": 5}),
        (InputError, {"text": SEED_TEXTS[0], "title": 12}),
        (InputError, "12345 67890"),
        (LanguageError, {"text": SEED_TEXTS[1], "lang": "xx"}),
        (InputError, {"text": SEED_TEXTS[1], "published": "yesterday-ish"}),
    ]
)


def test_any_stream_gives_one_entry_per_item_in_order_with_typed_failures(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Whatever a stream holds, the output has one entry per item, in order: every article a
    Result, everything else a Failed whose error has the type the cause has (never a bare
    AttributeError that ends the stream)."""
    from hypothesis import HealthCheck, given, settings

    with summarizer(tiny, tmp_path, targets=["fr"], stories=False) as s:

        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(st.lists(st.one_of(GOOD, BAD), min_size=1, max_size=6), st.integers(1, 4))
        def check(stream: list[tuple[Any, Any]], size: int) -> None:
            got = list(s.summarize_many([item for _, item in stream], batch_size=size))
            assert len(got) == len(stream)
            for (want, _), entry in zip(stream, got, strict=True):
                if want == "ok":
                    assert isinstance(entry, Result), entry
                else:
                    assert isinstance(entry, Failed), entry
                    assert type(entry.error) is want, (want, entry.error)

        check()


def test_errors_are_importable_from_the_package() -> None:
    import summarize

    for name in ("InputError", "LanguageError", "ModelNotAvailable", "ConfigError"):
        assert issubclass(getattr(summarize, name), summarize.SummarizeError)


def test_two_threads_share_one_object(tiny: dict[str, Path], tmp_path: Path) -> None:
    with summarizer(tiny, tmp_path, targets=["fr"]) as s:
        got: dict[int, list[str]] = {}

        def work(n: int) -> None:
            got[n] = [
                s.summarize(f"{SEED_TEXTS[i]}\n\nThread {n}.", id=f"t{n}-{i}").id for i in range(3)
            ]

        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert got == {n: [f"t{n}-{i}" for i in range(3)] for n in range(2)}


def test_asyncio_code_awaits_it(tiny: dict[str, Path], tmp_path: Path) -> None:
    import asyncio

    with summarizer(tiny, tmp_path, targets=["fr"]) as s:
        result = asyncio.run(s.asummarize(SEED_TEXTS[3], id="async-1"))
    assert result.id == "async-1" and "fr" in result.translations


def test_pending_asummarize_calls_leave_the_loops_default_executor_free(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Eight `asummarize` calls held inside the model: the loop's default executor (what
    asyncio resolves names on) still runs work at once, since they wait on the object's own
    thread. Checked by state, not by time: the default executor's call completes while all
    eight are still pending."""
    import asyncio
    import threading

    gate = threading.Event()
    with summarizer(tiny, tmp_path, targets=["fr"]) as s:
        real = s._batch

        def held(*args: Any, **kw: Any) -> Any:
            gate.wait(timeout=60)
            return real(*args, **kw)

        s._batch = held  # type: ignore[method-assign]

        async def main() -> tuple[int, int]:
            loop = asyncio.get_running_loop()
            calls = [
                asyncio.ensure_future(s.asummarize(SEED_TEXTS[i % 5], id=f"a-{i}"))
                for i in range(8)
            ]
            await asyncio.sleep(0)
            free = await asyncio.wait_for(loop.run_in_executor(None, lambda: 42), timeout=30)
            pending = sum(not c.done() for c in calls)
            gate.set()
            done = await asyncio.gather(*calls)
            assert [r.id for r in done] == [f"a-{i}" for i in range(8)]
            return free, pending

        free, pending = asyncio.run(main())
    assert free == 42 and pending == 8


def test_overrides_apply_over_given_settings(tiny: dict[str, Path], tmp_path: Path) -> None:
    """`Summarizer(settings, **overrides)` applies them (they were dropped), checked as on a
    fresh object."""
    from summarize.errors import ConfigError

    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", targets=["fr"]))
    with Summarizer(settings, targets=["ar", "fr"], batch_size=3) as s:
        assert s.settings.targets == ("ar", "fr") and s.settings.batch_size == 3
        assert s.settings.summarizer == settings.summarizer  # the rest as given
    with pytest.raises(ConfigError):
        Summarizer(settings, engine="nope")


@pytest.mark.parametrize(
    ("extra", "error", "words"),
    [
        ({"targets": ["xx"]}, LanguageError, "target 'xx'"),
        ({"summarizer": "/nope/model"}, ModelNotAvailable, "/nope/model does not exist"),
        ({"device": "gpu"}, ConfigError, "use cpu, cuda"),
    ],
)
def test_a_summarizer_is_checked_when_built_not_at_its_first_text(
    tiny: dict[str, Path], tmp_path: Path, extra: dict[str, Any], error: type, words: str
) -> None:
    """Targets, named models and the device fail the constructor, in words that name
    arguments (never a CLI flag); the models themselves still load at the first text."""
    overrides = tiny_overrides(tiny, tmp_path / "unused") | extra
    overrides.pop("output_dir")
    with pytest.raises(error, match=words) as caught:
        Summarizer(**overrides)
    # A flag may be named only as the command line's way to the same setting.
    assert "--" not in re.sub(r"--[\w-]+ on the command line", "", str(caught.value))


def test_a_result_is_a_value(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Immutable mappings, hashable, equal through its document, and a replaced field shows
    in `to_dict()` (it showed the old summary)."""
    import dataclasses

    with summarizer(tiny, tmp_path, targets=["fr"]) as s:
        r = s.summarize(SEED_TEXTS[0], title="INTERPOL opens its assembly", id="v-1")
    assert Result.from_dict(r.to_dict()) == r and hash(Result.from_dict(r.to_dict())) == hash(r)
    assert {r: 1}[r] == 1
    with pytest.raises(TypeError):
        r.translations["fr"] = r.translations["fr"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.summary = "x"  # type: ignore[misc]
    edited = dataclasses.replace(r, summary="An edited summary.", titles={"fr": "Un titre."})
    doc = edited.to_dict()
    assert doc["summary"]["text"] == "An edited summary."
    assert doc["title_translations"] == {"fr": "Un titre."}
    assert Result.from_dict(doc) == edited and edited != r


def test_a_stream_reports_its_progress(tiny: dict[str, Path], tmp_path: Path) -> None:
    """`progress=` a function: called with the count after each entry, failures included;
    `progress=True`: a counter on stderr that leaves the results alone."""
    seen: list[int] = []
    items: list[Any] = [SEED_TEXTS[0], None, SEED_TEXTS[1]]
    with summarizer(tiny, tmp_path, targets=["fr"], stories=False) as s:
        got = list(s.summarize_many(items, batch_size=2, progress=seen.append))
        assert seen == [1, 2, 3] and len(got) == 3
        assert len(list(s.summarize_many(items, progress=True))) == 3
