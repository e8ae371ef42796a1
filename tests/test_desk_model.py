"""A model of the desk, not a script: two editors and a reader act in any order Hypothesis
finds (open, type, save a draft, approve a field with the text they saw or typed, approve
their colleague's text after a conflict, approve a whole item by its ETag or by versions and
signatures, approve from the CLI what `review show` showed, restore a version, withdraw, post
a forged brief, and a re-run after a source changed), and after every step the one rule is
checked on every face that publishes: a text is published if and only if it is the text of
the latest approval of its field, and the approver sent or named exactly that text.

The rule is checked twice. Per face, against the model: the approved-only HTML and Markdown
briefs, the JSON results, ninjs (`pubStatus`), and the `item.approved` webhook payloads. And
as a taint scan that knows no face's shape: every model output carries a mark of its own
(`Marked`), every machine text is recorded from the documents as the machine wrote them, and
every string of every approved-only output (results `approved=only`, ninjs `usable` items from
the service and from the folder's drop folder, the approved-only briefs, each webhook payload
as it was sent, a brief posted by a reader) is scanned: a machine text found there must lie
inside a text approved for the item it is published under. The model keeps what each accepted
approval named; it never asks the server what is approved."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import OTHER_NEWS, SEEDS, tiny_overrides

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from summarize import load_settings, review
from summarize.briefs import _md_escape
from summarize.review.model import SOURCE_FIELDS
from summarize.service import create_app
from summarize.service.auth import Limits

KEYS = [
    "amal-key name=amal role=editor",
    "karim-key name=karim role=editor",
    "lina-key name=lina role=reader",
]
EDITORS = ("amal", "karim")
LINA = {"Authorization": "Bearer lina-key"}
# Texts shorter than this are not looked for in a brief: they could stand inside any text.
SHORTEST = 20
# What the generated runs did, so the test fails if they never reached what it is about.
TALLY: Counter[str] = Counter()
# A field of the item open: the first few often, so a colleague's change meets an approval.
FIELD = st.one_of(st.integers(0, 1), st.integers(0, 20))
# Every model output ends with its mark (`Marked`): a machine text is a string ending so.
MARK = re.compile(r"#[0-9a-f]{10}")


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-key"}


class Recorder:
    """A notifier that keeps each event instead of posting it: the webhook face."""

    urls = ("http://receiver.invalid/hook",)

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, kind: str, data: dict[str, Any], job: str | None = None) -> str:
        self.events.append((kind, data))
        return f"evt_{len(self.events)}"

    def stop(self) -> None:
        """The service stops its notifier on shutdown; nothing runs here."""


class Folder:
    """A run on the seeds and one other article, made once; each example starts from a copy
    of it (sources and output), so a re-run changes only that example's files."""

    def __init__(self, tiny: dict[str, Path], base: Path) -> None:
        from summarize import run

        self.src, self.out, self.snapshot = base / "src", base / "out", base / "snapshot"
        self.originals = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
        self.originals["zz-floods.txt"] = OTHER_NEWS[0]
        self.settings = load_settings(
            overrides=tiny_overrides(
                tiny, self.out, formats=["json", "md", "html", "ninjs"], story_embedder="none"
            )
        )
        self.reset_sources()
        report = run([self.src], self.settings)
        assert report.ok, report.outcomes
        shutil.copytree(self.out, self.snapshot)

    def reset_sources(self) -> None:
        self.src.mkdir(exist_ok=True)
        for name, text in self.originals.items():
            (self.src / name).write_text(text, encoding="utf-8")

    def reset(self) -> None:
        self.reset_sources()
        shutil.rmtree(self.out, ignore_errors=True)
        shutil.copytree(self.snapshot, self.out)

    def rerun(self, name: str) -> None:
        from summarize import run

        path = self.src / name
        path.write_text(
            path.read_text(encoding="utf-8") + "\n\nA late paragraph changed the story.",
            encoding="utf-8",
        )
        report = run([self.src], self.settings)
        assert report.ok, report.outcomes


class Marked:
    """A model whose every output ends with a mark of its input. The tiny random models write
    the same text for every article, and a brief that shows one article's unapproved summary
    under another's approved one would then look right; marked (by the model and its input),
    every machine text is its own, an article's Arabic and French translations too."""

    def __init__(self, model: Any, name: str) -> None:
        self._model, self._name = model, name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def generate(self, texts: Any, params: Any, **kw: Any) -> list[Any]:
        from dataclasses import replace

        from summarize.text import sha256

        out = self._model.generate(texts, params, **kw)
        return [
            replace(g, text=f"{g.text} #{sha256(self._name + chr(0) + t)[:10]}")
            for g, t in zip(out, texts, strict=True)
        ]


@pytest.fixture(scope="module")
def folder(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Folder]:
    from summarize import engines, summarise, translate

    with pytest.MonkeyPatch.context() as patch:
        for stage in (summarise, translate):
            patch.setattr(
                stage, "get_model", lambda ref, s: Marked(engines.get_model(ref, s), str(ref))
            )
        yield Folder(tiny, tmp_path_factory.mktemp("desk-model"))


class Desk(RuleBasedStateMachine):
    folder: Folder

    def __init__(self) -> None:
        super().__init__()
        self.folder.reset()
        # The desk is driven faster than people type: the rate limit is not what is tested.
        limits = Limits(rate_per_minute=1_000_000)
        self.app = create_app(self.folder.settings, KEYS, limits, start_worker=False)
        self.hooks = Recorder()
        self.client = TestClient(self.app)
        self.client.__enter__()
        self.app.state.service.notifier = self.hooks
        # The model: (item, field) -> the text an accepted approval named.
        self.approved: dict[tuple[str, str], str] = {}
        # What each approval was made against, to know when a re-run makes it stale.
        self.under: dict[tuple[str, str], tuple[str, str]] = {}
        self.views: dict[str, dict[str, Any]] = {}  # editor -> the item view on their page
        self.typed: dict[tuple[str, str, str], str] = {}  # (editor, item, field) -> text
        self.conflicts: dict[str, tuple[str, str, dict[str, Any]]] = {}  # editor -> conflict
        self.moved: dict[str, tuple[str, str]] = {}  # editor -> a field changed under their page
        self.texts: set[str] = set()  # every text anyone could have seen
        self.count = 0
        self.reran = False
        # The taint scan's record: mark -> every machine text bearing it, as the machine wrote
        # it (read from the documents, not from the fields the desk declares).
        self.machine: dict[str, set[str]] = {}
        self.checked_events = 0  # webhook events already scanned
        self.items = [i["item"] for i in self._get("/v1/jobs/folder/items")["items"]]
        assert any(i.startswith(review.STORY_PREFIX) for i in self.items), self.items
        self._record_machine_texts()

    def _record_machine_texts(self) -> None:
        """Every machine text of every item's documents, and every field's machine text."""
        for item in self.items:
            view = self._get(f"/v1/jobs/folder/items/{item}")
            machine = [f["machine_text"] for f in view["fields"] if f["field"] not in SOURCE_FIELDS]
            self.texts.update(machine)
            for text in [*strings(view["document"]), *machine]:
                if MARK.search(text) and text.rstrip().endswith(MARK.findall(text)[-1]):
                    for mark in MARK.findall(text):
                        self.machine.setdefault(mark, set()).add(text)

    def _taint(self, owner: str | None, where: str, value: Any) -> None:
        """Every machine text in `value` lies inside a text approved for `owner` (any item's,
        for a brief of many): the rule as a scan, knowing nothing of the output's shape."""
        allowed = set(self.approved.values()) if owner is None else self._approved_of(owner)
        for text in strings(value):
            for mark in set(MARK.findall(text)):
                for machine in self.machine.get(mark, ()):
                    if machine in text:
                        TALLY["tainted strings scanned"] += 1
                        assert any(machine in ok for ok in allowed), (
                            f"{where}: {owner or 'a brief'} publishes machine text no editor "
                            f"approved there: {machine!r} in {text!r}"
                        )

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------

    def _get(self, path: str, who: dict[str, str] = LINA) -> Any:
        answer = self.client.get(path, headers=who)
        assert answer.status_code == 200, answer.text
        return answer.json() if "json" in answer.headers["content-type"] else answer.text

    def _url(self, item: str) -> str:
        return f"/v1/jobs/folder/items/{item}"

    def _field(self, view: dict[str, Any], i: int) -> dict[str, Any]:
        fields = view["fields"]
        return dict(fields[i % len(fields)])

    def _accepted(self, item: str, field: str, text: str, view: dict[str, Any]) -> None:
        """An approval the server accepted: the model now publishes `text` there."""
        event("an approval accepted")
        TALLY["approved"] += 1
        self.approved[(item, field)] = text
        shown = next(f for f in view["fields"] if f["field"] == field)
        self.under[(item, field)] = (shown["machine_text"], review.input_hash(view["document"]))

    def _check_hook(self, texts: dict[str, str], item: str) -> None:
        kind, data = self.hooks.events[-1]
        assert kind == "item.approved" and data["item"] == item
        assert data["texts"] == texts, (data["texts"], texts)

    # -- what editors do -------------------------------------------------------------------

    # Editors meet on the first few items often, so views go stale and approvals conflict.
    @rule(editor=st.sampled_from(EDITORS), i=st.one_of(st.integers(0, 2), st.integers(0, 20)))
    def open_item(self, editor: str, i: int) -> None:
        item = self.items[i % len(self.items)]
        self.views[editor] = self._get(self._url(item), auth(editor))
        self.conflicts.pop(editor, None)

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), i=st.integers(0, 20))
    def type_text(self, editor: str, i: int) -> None:
        view = self.views.get(editor)
        if view is None:
            return
        field = self._field(view, i)["field"]
        self.count += 1
        text = f"{editor} typed version {self.count} of the {field} here."
        self.typed[(editor, view["item"], field)] = text
        self.texts.add(text)

    @precondition(lambda self: self.typed)
    @rule(editor=st.sampled_from(EDITORS), i=st.integers(0, 20))
    def save_draft(self, editor: str, i: int) -> None:
        view = self.views.get(editor)
        if view is None:
            return
        shown = self._field(view, i)
        text = self.typed.get((editor, view["item"], shown["field"]))
        if text is None:
            return
        answer = self.client.patch(
            self._url(view["item"]),
            json={"field": shown["field"], "text": text, "version": shown["version"]},
            headers=auth(editor),
        )
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 200:
            self.views[editor] = answer.json()
            del self.typed[(editor, view["item"], shown["field"])]

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), i=FIELD)
    def colleague_saves_meanwhile(self, editor: str, i: int) -> None:
        """The other editor saves a draft of a field `editor` has open, on a fresh view:
        `editor`'s page now shows an older version (what makes a conflict)."""
        view = self.views.get(editor)
        if view is None:
            return
        other = next(e for e in EDITORS if e != editor)
        field = self._field(view, i)["field"]
        fresh = self._get(self._url(view["item"]), auth(other))
        shown = next(f for f in fresh["fields"] if f["field"] == field)
        self.count += 1
        text = f"{other} wrote version {self.count} of the {field} meanwhile."
        self.texts.add(text)
        answer = self.client.patch(
            self._url(view["item"]),
            json={"field": field, "text": text, "version": shown["version"]},
            headers=auth(other),
        )
        assert answer.status_code == 200, answer.text
        self.views[other] = answer.json()
        self.moved[editor] = (view["item"], field)

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), i=FIELD, mine=st.booleans(), moved=st.booleans())
    def approve_field(self, editor: str, i: int, mine: bool, moved: bool) -> None:
        """Approve what the page shows (its signature), or the text the editor typed; often
        the field a colleague changed since the page loaded (what makes a conflict)."""
        view = self.views.get(editor)
        if view is None:
            return
        item, shown = view["item"], self._field(view, i)
        if moved and self.moved.get(editor, ("", ""))[0] == item:
            name = self.moved[editor][1]
            shown = next((f for f in view["fields"] if f["field"] == name), shown)
        typed = self.typed.get((editor, item, shown["field"]))
        body: dict[str, Any] = {"field": shown["field"], "version": shown["version"]}
        if mine and typed is not None:
            body["text"], text = typed, typed
        elif shown["seen"] is not None:
            body["seen"], text = shown["seen"], shown["to_approve"]
        else:
            return  # a stale field offers nothing to approve unseen
        answer = self.client.post(f"{self._url(item)}/approve", json=body, headers=auth(editor))
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 409:
            event("an approval met a conflict")
            TALLY["conflict"] += 1
            self.conflicts[editor] = (item, shown["field"], answer.json()["error"])
            return
        self._accepted(item, shown["field"], text, view)
        self._check_hook({shown["field"]: text}, item)
        self.views[editor] = answer.json()
        self.typed.pop((editor, item, shown["field"]), None)

    @precondition(lambda self: self.conflicts)
    @rule(editor=st.sampled_from(EDITORS))
    def approve_theirs(self, editor: str) -> None:
        """After a conflict: approve the colleague's text, as the conflict showed it."""
        if editor not in self.conflicts:
            return
        item, field, theirs = self.conflicts.pop(editor)
        if theirs.get("seen") is None:
            return
        answer = self.client.post(
            f"{self._url(item)}/approve",
            json={"field": field, "version": theirs["version"], "seen": theirs["seen"]},
            headers=auth(editor),
        )
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 200:
            view = answer.json()
            self._accepted(item, field, theirs["text"], view)
            self._check_hook({field: theirs["text"]}, item)
            self.views[editor] = view

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS))
    def approve_item(self, editor: str) -> None:
        """Approve every field as the page shows it, warnings and drafts acknowledged."""
        view = self.views.get(editor)
        if view is None:
            return
        answer = self.client.post(
            f"{self._url(view['item'])}/approve",
            json={"acknowledge_warnings": True},
            headers={**auth(editor), "If-Match": view["etag"]},
        )
        assert answer.status_code in (200, 409, 422), answer.text
        if answer.status_code == 200:
            self._item_accepted(editor, view, answer.json())

    def _item_accepted(self, editor: str, view: dict[str, Any], after: dict[str, Any]) -> None:
        """A whole item's approval the server accepted: every field as the page showed it."""
        texts = {f["field"]: f["to_approve"] for f in view["fields"]}
        for field, text in texts.items():
            self._accepted(view["item"], field, text, view)
        self._check_hook(texts, view["item"])
        self.views[editor] = after

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), i=st.integers(0, 20))
    def withdraw(self, editor: str, i: int) -> None:
        """Withdraw an approval the page shows (any field, when it shows none)."""
        view = self.views.get(editor)
        if view is None:
            return
        approved = [f for f in view["fields"] if f["status"] == review.APPROVED]
        shown = approved[i % len(approved)] if approved else self._field(view, i)
        answer = self.client.post(
            f"{self._url(view['item'])}/withdraw",
            json={"field": shown["field"], "version": shown["version"]},
            headers=auth(editor),
        )
        assert answer.status_code in (200, 409, 422), answer.text
        if answer.status_code == 200:
            TALLY["withdrawn"] += 1
            self.approved.pop((view["item"], shown["field"]), None)
            self.views[editor] = answer.json()
            kind, data = self.hooks.events[-1]  # the CMS hears of it
            assert kind == "item.withdrawn", kind
            assert (data["item"], data["field"]) == (view["item"], shown["field"])
            assert shown["field"] not in data["texts"]

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), named=st.booleans())
    def approve_item_by_versions(self, editor: str, named: bool) -> None:
        """Approve a whole item by each field's version as the page shows it: refused unless
        each field's signature is sent too (versions name no text: a re-run changes the
        machine text, not the version)."""
        view = self.views.get(editor)
        if view is None:
            return
        body: dict[str, Any] = {
            "acknowledge_warnings": True,
            "versions": {f["field"]: f["version"] for f in view["fields"]},
        }
        if named:
            body["seen"] = {f["field"]: f["seen"] for f in view["fields"] if f["seen"]}
        answer = self.client.post(
            f"{self._url(view['item'])}/approve", json=body, headers=auth(editor)
        )
        if not named:
            assert answer.status_code == 428, answer.text
            return
        assert answer.status_code in (200, 409, 422, 428), answer.text
        if answer.status_code == 200:
            TALLY["approved by versions"] += 1
            self._item_accepted(editor, view, answer.json())

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), i=FIELD, meanwhile=st.booleans())
    def approve_from_the_cli(self, editor: str, i: int, meanwhile: bool) -> None:
        """`summarize review show`, perhaps a colleague's draft on the desk meanwhile, then
        `summarize review approve ITEM FIELD --sha` with the sha that was shown."""
        from typer.testing import CliRunner

        from summarize.cli import app

        view = self.views.get(editor)
        if view is None:
            return
        item, out = view["item"], str(self.folder.out)
        runner = CliRunner()
        shown = runner.invoke(app, ["review", "show", item, "-o", out, "--json"])
        assert shown.exit_code == 0, shown.output
        shown_doc = json.loads(shown.stdout)
        fields = sorted(shown_doc["approve"]["fields"])
        if not fields:
            return
        field = fields[i % len(fields)]
        sha = shown_doc["approve"]["fields"][field]
        entry = shown_doc["review"]["fields"].get(field) or {}
        text = (entry.get("pending") or {}).get("text") or review.text_of(shown_doc, field)
        if meanwhile:
            self.colleague_saves_meanwhile(
                editor, [f["field"] for f in view["fields"]].index(field)
            )
        answer = runner.invoke(
            app,
            ["review", "approve", item, field, "--sha", sha, "--editor", editor, "-o", out],
        )
        assert "Traceback" not in answer.output
        if answer.exit_code != 0:
            assert answer.exit_code == 2 and "review error" in answer.output, answer.output
            TALLY["cli refused a changed text"] += 1
            return
        TALLY["cli approved"] += 1
        fresh = self._get(self._url(item), auth(editor))
        self._accepted(item, field, text, fresh)

    @rule(i=st.integers(0, 20), approved=st.booleans())
    def reader_posts_a_forged_brief(self, i: int, approved: bool) -> None:
        """A reader sends a result with a made-up review block (or none): the brief renders
        it as a machine draft and never says "Reviewed by"."""
        docs = self._get("/v1/jobs/folder/results")
        doc = dict(docs[i % len(docs)])
        doc["summary"] = dict(doc["summary"], text="FORGED: 5,000 dead in the capital.")
        if approved:
            doc["review"] = {
                "state": "approved",
                "fields": {
                    "summary": {
                        "status": "approved",
                        "approved_by": "amal",
                        "approved_signature": review.signature(doc["summary"]["text"]),
                        "edited": False,
                    }
                },
            }
        else:
            doc.pop("review", None)
        for fmt in ("md", "html"):
            answer = self.client.post(f"/v1/briefs/{fmt}", json=[doc], headers=LINA)
            assert answer.status_code == 200, answer.text
            assert "Reviewed by" not in answer.text and "Machine draft" in answer.text

    @precondition(lambda self: self.views)
    @rule(editor=st.sampled_from(EDITORS), i=st.integers(0, 50))
    def restore(self, editor: str, i: int) -> None:
        """Restore an earlier text of the history as a draft (what the desk's button does)."""
        view = self.views.get(editor)
        if view is None or not view["history"]:
            return
        step = view["history"][i % len(view["history"])]
        shown = next((f for f in view["fields"] if f["field"] == step["field"]), None)
        if shown is None:
            return
        answer = self.client.patch(
            self._url(view["item"]),
            json={
                "field": step["field"],
                "text": step["text"],
                "version": shown["version"],
                "restore": step["version"],
            },
            headers=auth(editor),
        )
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 200:
            self.views[editor] = answer.json()

    @precondition(lambda self: self.views)
    @rule(i=st.integers(0, 20))
    def reader_tries(self, i: int) -> None:
        item = self.items[i % len(self.items)]
        view = self._get(self._url(item))
        shown = self._field(view, i)
        approve = self.client.post(
            f"{self._url(item)}/approve",
            json={"field": shown["field"], "version": shown["version"], "text": "Lina's."},
            headers=LINA,
        )
        edit = self.client.patch(
            self._url(item),
            json={"field": shown["field"], "version": shown["version"], "text": "Lina's."},
            headers=LINA,
        )
        assert (approve.status_code, edit.status_code) == (403, 403)

    @precondition(lambda self: not self.reran)
    @rule(i=st.integers(0, 5))
    def rerun_after_the_source_changed(self, i: int) -> None:
        """A source changes and the folder is run again: an approval made against the old
        source or machine text no longer publishes."""
        self.reran = True
        TALLY["rerun"] += 1
        names = sorted(self.folder.originals)
        self.folder.rerun(names[i % len(names)])
        self._record_machine_texts()
        for item in self.items:
            view = self._get(self._url(item))
            doc = view["document"]
            for f in view["fields"]:
                if f["field"] not in SOURCE_FIELDS:  # a source headline: shown as the source
                    self.texts.add(f["machine_text"])
                key = (item, f["field"])
                if key in self.under and self.under[key] != (
                    f["machine_text"],
                    review.input_hash(doc),
                ):
                    self.approved.pop(key, None)

    # -- the rule, on every face -----------------------------------------------------------

    @invariant()
    def the_rule_holds_on_every_face(self) -> None:
        """Each face fetched once a step: checked against the model, and scanned for taint."""
        self._results(self._get("/v1/jobs/folder/results"))
        self._ninjs(self._get("/v1/jobs/folder/results?format=ninjs"), "service ninjs")
        self._ninjs(
            [
                json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((self.folder.out / "ninjs").glob("*.json"))
            ],
            "the folder's ninjs",
        )
        html = self._get("/v1/jobs/folder/brief.html?approved=only")
        md = self._get("/v1/jobs/folder/brief.md?approved=only")
        self._html(html)
        self._markdown(md)
        self._taint(None, "approved-only HTML brief", html)
        self._taint(None, "approved-only Markdown brief", md)
        for doc in self._get("/v1/jobs/folder/results?approved=only"):
            self._taint(review.item_id(doc), "results approved=only", doc)
        for kind, data in self.hooks.events[self.checked_events :]:
            self._taint(data.get("item"), f"{kind} webhook", data)
        self.checked_events = len(self.hooks.events)

    def _results(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            item = review.item_id(doc)
            for field in review.fields(doc):
                status = review.status(doc, field)
                wanted = self.approved.get((item, field))
                assert (status == review.APPROVED) == (wanted is not None), (item, field, status)
                if wanted is not None:
                    assert review.text_of(doc, field) == wanted, (item, field)

    def _ninjs(self, entries: list[dict[str, Any]], where: str) -> None:
        from urllib.parse import unquote

        for entry in entries:
            if entry["pubStatus"] != "usable":
                continue
            _, _, kind, ident, lang = entry["uri"].split(":")
            ident = unquote(ident)
            text = entry["bodies"][0]["value"]
            owner = f"{review.STORY_PREFIX}{ident}" if kind == "story" else ident
            if kind == "story":
                keys = [(owner, f"story_summary:{lang}")]
            else:
                keys = [(ident, "summary"), (ident, f"translation:{lang}")]
            assert any(self.approved.get(k) == text for k in keys), (entry["uri"], text)
            self._taint(owner, f"{where} usable {entry['uri']}", entry)

    def _approved_of(self, owner: str) -> set[str]:
        return {text for (item, _), text in self.approved.items() if item == owner}

    def _html(self, brief: str) -> None:
        """Every text block of the approved-only HTML brief is an approved text of the item
        it stands under (an article, a story, a story's reviewed member), and every approved
        summary or translation is shown under its item."""
        import lxml.html

        page = lxml.html.fromstring(brief)
        shown: dict[str, set[str]] = {}
        for block in page.xpath('//p[contains(concat(" ", @class, " "), " text ")]'):
            owner = next(a for a in block.iterancestors() if a.get("id"))
            item = owner.get("id")
            if owner.tag == "section":
                item = f"{review.STORY_PREFIX}{item}"
            text = block.text_content()
            shown.setdefault(item, set()).add(text)
            assert text in self._approved_of(item), f"{item}: unapproved text {text!r}"
        for (item, field), text in self.approved.items():
            if field.startswith(("summary", "translation:", "story_summary:")):
                assert text in shown.get(item, set()), f"approved {item} {field} not shown"

    def _markdown(self, md: str) -> None:
        """A text appears in the approved-only Markdown at most as often as fields approved
        with it (counting tells an approved copy from an unapproved one)."""
        # A headline (the source's, or an editor's for it) is printed as a heading and again
        # in its story's member list: counted here are texts of the other fields.
        approved = Counter(t for (_, f), t in self.approved.items() if f not in SOURCE_FIELDS)
        headlines = {t for (_, f), t in self.approved.items() if f in SOURCE_FIELDS}
        for text in (self.texts | set(approved)) - headlines:
            if re.search(r" of the (story_)?title (here|meanwhile)\.$", text):
                continue  # typed for a headline
            if len(text.strip()) >= SHORTEST:
                found = md.count(_md_escape(text))
                assert found <= approved[text], f"{text!r} {found} times, approved {approved[text]}"


def strings(value: Any) -> list[str]:
    """Every string in a JSON value (keys too), or the text itself."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_only_what_an_editor_approved_is_published(folder: Folder) -> None:
    Desk.folder = folder
    TALLY.clear()
    run_state_machine_as_test(
        Desk,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,  # the same runs in CI as here: a failure is reproducible
            # A failing run is printed as it was found: shrinking one that runs the service
            # and a re-run takes longer than the suite may.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    reached = ("approved", "conflict", "rerun", "withdrawn", "approved by versions")
    assert min(TALLY[k] for k in reached) > 0, TALLY
    assert TALLY["cli approved"] > 0 and TALLY["cli refused a changed text"] > 0, TALLY
    assert TALLY["tainted strings scanned"] > 0, TALLY
    print(f"desk model: {dict(TALLY)}")
