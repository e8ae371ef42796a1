"""Property-based tests (Hypothesis): ingest and stories hold on any mix of inputs, not only on
the ones we thought of. A newsroom batch always holds copies, rewrites, replaced files and junk.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from conftest import OTHER_NEWS, SEEDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarize import load_settings
from summarize.ingest import collect
from summarize.stories import StoryStore, member
from summarize.types import Article, Skipped, SourceError

_BASES = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] + OTHER_NEWS[:2]


def _variant(base: int, kind: int) -> str:
    """A base article as it is (a wire copy), lightly rewritten (one word), or trimmed."""
    text = _BASES[base]
    if kind == 1:
        return text.replace(" the ", " a ", 1)
    if kind == 2:
        return text.rsplit(" ", 3)[0]
    return text


_ARTICLE = st.tuples(
    st.integers(0, 9),  # id: the same id twice across batches is a file replaced
    st.integers(0, len(_BASES) - 1),
    st.integers(0, 2),
    st.integers(0, 3),  # publication day: ties happen
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.lists(_ARTICLE, min_size=1, max_size=8), min_size=1, max_size=4))
def test_any_batches_of_copies_rewrites_and_replacements_partition_the_articles(
    tmp_path_factory: object, batches: list[list[tuple[int, int, int, int]]]
) -> None:
    """Whatever arrives in whatever batches: no crash; every id is in exactly one story, with
    the text it last had; every duplicate points at a member of its own story."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = StoryStore(Path(folder) / "s.sqlite3")
        latest: dict[str, str] = {}
        try:
            for batch in batches:
                arts = {f"id{i}": _variant(b, k) for i, b, k, _ in batch}
                days = {f"id{i}": d for i, _, _, d in batch}
                members = [
                    member(
                        hashlib.sha256(text.encode()).hexdigest(),
                        aid,
                        "en",
                        text,
                        published=1_750_000_000.0 + 86400 * days[aid],
                    )
                    for aid, text in arts.items()
                ]
                done = store.add(members, store.duplicates(members))
                latest.update({m.id: m.hash for m in members})
                assert {m.hash for m in members} <= set(done.story_of)
                listed: dict[str, str] = {}
                for story in store.stories():
                    # What a duplicate may point at: a member holding its own text.
                    held = {m.hash for m in story.members if m.duplicate_of != m.hash}
                    for m in story.members:
                        assert m.id not in listed, f"{m.id} in two stories"
                        listed[m.id] = m.hash
                        if m.duplicate_of is not None:
                            assert m.duplicate_of in held, (m.id, m.duplicate_of)
                assert listed == latest
        finally:
            store.close()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=12) | st.integers() | st.none(),
        "text": st.text(max_size=300) | _JSON_VALUES,
        "title": st.text(max_size=30) | _JSON_VALUES,
        "lang": st.sampled_from(["en", "fr", "xx", "", "EN-gb"]) | _JSON_VALUES,
        "published": st.text(max_size=30) | st.integers() | st.floats(),
        "url": st.text(max_size=30) | _JSON_VALUES,
    },
)
_NAMES = st.sampled_from(["a.txt", "b.md", "c.html", "d.jsonl", "e.json", "f.pdf", ".hidden"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            _NAMES,
            st.binary(max_size=400)
            | st.text(max_size=400).map(str.encode)
            | st.lists(_RECORD, max_size=4).map(
                lambda rs: "\n".join(json.dumps(r) for r in rs).encode()
            ),
        ),
        max_size=6,
    )
)
def test_any_folder_of_any_bytes_is_ingested_into_articles_errors_and_skips(
    tmp_path_factory: object, files: list[tuple[str, bytes]]
) -> None:
    """Any bytes in any kind of file: ingest never raises; every file is accounted for."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "inbox"
        root.mkdir()
        for i, (name, data) in enumerate(files):
            (root / f"{i}{name}").write_bytes(data)
        got = collect([root], load_settings())
        sources = {re.split(r"[:\[]", Path(x.source).name)[0] for x in got.order}
        assert all(isinstance(x, Article | SourceError | Skipped) for x in got.order)
        assert {f"{i}{name}" for i, (name, _) in enumerate(files)} <= sources
        for art in got.articles:
            assert art.text.strip() and art.id and art.hash
