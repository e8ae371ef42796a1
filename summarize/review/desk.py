"""The review desk: the items of one scope (an output folder, or a service job), each field's
state, and the operations on it (draft, approve one field, approve an item), with versions
checked and warnings acknowledged. `summarize review` and the service's desk routes are thin
faces over it. On a folder, each edit or approval rewrites what is published from that item
(its JSON, `stories.json`, the briefs of the last batch), atomically, machine text kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from summarize.config import Settings
from summarize.errors import ReviewError, ReviewNotFound
from summarize.review import model as review
from summarize.review.model import APPROVED, MAX_FIELD_CHARS, STALE
from summarize.review.publish import apply, machine_doc, open_details, open_items, publish
from summarize.review.queue import queue_line
from summarize.review.store import EDITS_FILE, FOLDER, Conflict, EditStore, FieldEdits, Save


class NeedsAcknowledgement(ReviewError):
    """Approving a whole item would approve open warnings or drafts the approver has not
    confirmed; `items` lists them (`field: code`)."""

    def __init__(
        self, item: str, items: list[str], details: list[dict[str, Any]] | None = None
    ) -> None:
        self.item, self.items, self.details = item, items, details or []
        super().__init__(
            f"{item}: approving every field would also approve {', '.join(items)}; "
            "look at them, or confirm (--force, or acknowledge_warnings: true)"
        )


class NeedsText(ReviewError):
    """An approval that names no text: every approval says what it approves, the text itself
    or its signature (`seen`), so nothing the approver did not see is approved."""


def item_etag(state: Mapping[str, object]) -> str:
    """An item's ETag, the signature of everything approving it whole would approve: its
    fields, their versions and the texts approving them would approve (`Desk.item_state`)."""
    digest = hashlib.sha256(
        ";".join(f"{field}={version}" for field, version in state.items()).encode()
    ).hexdigest()[:16]
    return f'"{digest}"'


def as_shown(state: Mapping[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """An item's state (`Desk.item_state`) as (versions, signatures) by field."""
    versions = {f: int(v.split(":", 1)[0]) for f, v in state.items()}
    return versions, {f: v.split(":", 1)[1] for f, v in state.items()}


_JSONL_SOURCE = re.compile(r"^(?P<path>.+):(?P<line>\d+)$")


class Desk:
    scope = FOLDER

    def __init__(self, settings: Settings, store: EditStore | None = None) -> None:
        """`store`: an edits store the caller owns and keeps open (the service's); without
        one, the folder's is opened on first need and closed by `close`."""
        self.settings = settings
        self.output_dir = settings.output_dir
        self._store = store
        self._owns_store = store is None
        self._detector: Any = None

    @property
    def store(self) -> EditStore:
        if self._store is None:
            self._store = EditStore(self.output_dir / EDITS_FILE)
        return self._store

    def close(self) -> None:
        if self._store is not None and self._owns_store:
            self._store.close()

    def store_exists(self) -> bool:
        return self._store is not None or (self.output_dir / EDITS_FILE).exists()

    def missing_results_note(self) -> str | None:
        """Why articles of the last run are not on the desk: it wrote no result JSON for them
        (`--format html,md`). None when every one has its file."""
        report = _read(self.output_dir / "report.json") or {}
        missing = [
            s for s in report.get("sources", []) if s.get("status") == "ok" and not s.get("output")
        ]
        if not missing:
            return None
        return (
            f"{len(missing)} article(s) of the last run have no result JSON (it ran without json "
            "in --format), so only their stories can be reviewed here; run again with "
            "--format json,html,md to review them"
        )

    def failed_sources(self) -> list[dict[str, Any]]:
        """The last run's sources that failed, each with its reason (report.json)."""
        report = _read(self.output_dir / "report.json") or {}
        return [
            {
                "id": s.get("id") or s.get("source"),
                "title": None,
                "source": s.get("source"),
                "error": (s.get("error") or {}).get("message") or s.get("reason"),
            }
            for s in report.get("sources", [])
            if s.get("status") == "error"
        ]

    # -- reading ----------------------------------------------------------------------------

    def _results(self) -> dict[str, tuple[Path, dict[str, Any]]]:
        """Result files and their documents by article id (every `<id>.json` that is a result
        document), each read once."""
        out: dict[str, tuple[Path, dict[str, Any]]] = {}
        for path in sorted(self.output_dir.glob("*.json")):
            doc = _read(path)
            if doc is not None and "provenance" in doc and "hash" in doc:
                out[str(doc["id"])] = (path, doc)
        return out

    def _stories_file(self) -> list[dict[str, Any]]:
        return list((_read(self.output_dir / "stories.json") or {}).get("stories", []))

    def machine_docs(self) -> dict[str, dict[str, Any]]:
        """Every item of the folder (articles, then stories with a summary), as the machine
        wrote it."""
        return self._machine_docs(self._results(), self._stories_file())

    def _machine_docs(
        self, results: dict[str, tuple[Path, dict[str, Any]]], stories: list[dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        docs = {item: machine_doc(doc) for item, (_, doc) in results.items()}
        for story in stories:
            if story.get("size", 0) >= 2 and "summary" in story:
                docs[review.item_id(story)] = machine_doc(story)
        if not docs:
            raise ReviewNotFound(
                f"{self.output_dir} holds no results; run `summarize run <sources> "
                f"--output {self.output_dir}` first"
            )
        return docs

    def machine_doc(self, item: str) -> dict[str, Any]:
        docs = self.machine_docs()
        if item not in docs:
            known = ", ".join(list(docs)[:8]) + (", …" if len(docs) > 8 else "")
            raise ReviewNotFound(
                f"no item {item!r} here (items: {known}); see `summarize review list`"
            )
        return docs[item]

    def versions(self, item: str) -> dict[str, int]:
        """Each field of an item with its version (0 before any edit): what an item's ETag is
        made of."""
        state = self.store.fields(self.scope, item)
        return {
            f: state[f].version if f in state else 0 for f in review.fields(self.machine_doc(item))
        }

    def published(self, item: str) -> dict[str, Any]:
        return self.publish({item: self.machine_doc(item)})[item]

    def publish(self, docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Machine documents as published, edits looked up once; a source is read only for
        an item whose approved text differs from the machine's (only then are checks rerun)."""
        published = publish(
            docs.values(), self.store.items(self.scope, docs), self.source, detect=self.detect
        )
        return dict(zip(docs, published, strict=True))

    def items(self) -> list[dict[str, Any]]:
        """One line per item: its state and each field's."""
        docs = self.machine_docs()
        store = self._store or EditStore.existing(self.output_dir)  # listing creates no file
        edits = store.items(self.scope, docs) if store is not None else {}
        if store is not None and store is not self._store:
            store.close()
        return [queue_line(apply(doc, edits.get(item, {}))) for item, doc in docs.items()]

    # -- sources, for the checks on edited text ------------------------------------------------

    def detect(self, text: str) -> tuple[str, float]:
        from summarize.detect import get_detector

        if self._detector is None:
            self._detector = get_detector(self.settings)
        code, confidence = self._detector.detect(text)
        return code, confidence

    def source(self, doc: Mapping[str, Any]) -> str | None:
        """The article's text: kept with an earlier edit, else read again from its source if it
        is still the same text (same hash). None when it cannot be had."""
        if review.is_story(doc):
            return self.story_source(doc)
        kept = self.store.source(str(doc["hash"]))
        if kept is not None:
            return kept
        from summarize.ingest import Reader
        from summarize.types import Article

        reader = Reader(replace(self.settings, max_chars=10**9, min_chars=0))
        where = str(doc.get("source", ""))
        path, line = Path(where), None
        if not path.is_file() and (match := _JSONL_SOURCE.match(where)):
            path, line = Path(match["path"]), int(match["line"])
        if not path.is_file():
            return None
        try:
            if line is not None:
                with path.open(encoding="utf-8") as fh:
                    found = list(reader.jsonl(fh, str(path)))
            else:
                found = [a for a in reader.file(path, str(doc["id"])) if isinstance(a, Article)]
        except (OSError, ValueError):
            return None
        for article in found:
            if isinstance(article, Article) and article.hash == doc["hash"]:
                return article.text
        return None

    def story_source(self, doc: Mapping[str, Any]) -> str | None:
        """A story's members' texts, what an edited story summary is checked against."""
        results = self._results()
        texts = []
        for m in doc.get("members", []):
            found = results.get(str(m.get("id")))
            text = self.source(found[1]) if found is not None else None
            if text:
                texts.append(text)
        return "\n\n".join(texts) or None

    # -- editing -----------------------------------------------------------------------------

    def _target(
        self, item: str, field: str, text: str | None, doc: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        doc = self.machine_doc(item) if doc is None else doc
        if not review.valid_field(field):
            raise ReviewError(
                f"{item}: {field!r} is not a field; use summary, title, translation:<lang>, "
                "title:<lang> or story_summary:<lang>"
            )
        found = review.target(doc, field)
        if found is None:
            raise ReviewError(
                f"{item} has no {field}; its fields are: {', '.join(review.fields(doc))}"
            )
        if text is not None:
            if not text.strip():
                raise ReviewError(
                    f"{item} {field}: the text is empty; an edit cannot remove a field"
                )
            if len(text) > MAX_FIELD_CHARS:
                raise ReviewError(
                    f"{item} {field}: the text is {len(text)} characters; a field holds at "
                    f"most {MAX_FIELD_CHARS}"
                )
        return doc, found

    def edit(
        self,
        item: str,
        field: str,
        editor: str,
        text: str,
        *,
        version: int | None,
        restore: int | None = None,
    ) -> FieldEdits:
        """Keep `text` as the field's draft (what is approved stays published). `version`:
        the field version the editor saw (a `Conflict` if it moved on); `restore`: the earlier
        version this text is restored from (the history says "restore")."""
        doc, found = self._target(item, field, text)
        done = self._draft(
            doc,
            found,
            text,
            editor,
            version=version,
            action="restore" if restore is not None else None,
        )
        self.republish()
        return done

    def _draft(
        self,
        doc: Mapping[str, Any],
        found: Any,
        text: str,
        editor: str,
        *,
        version: int | None,
        action: str | None = None,
    ) -> FieldEdits:
        """Keep a draft (approvals go through `_approval` alone)."""
        return self.store.save(
            self.scope,
            found,
            text.strip(),
            editor,
            approve=False,
            expected=version,
            source=self.source(doc) if not review.is_story(doc) else None,
            action=action,
        )

    def approve(
        self,
        item: str,
        field: str,
        editor: str,
        *,
        version: int | None,
        text: str | None = None,
        seen: str | None = None,
        acknowledged: list[str] | None = None,
    ) -> FieldEdits:
        """Approve what the approver saw: `text` when sent, else the text `seen` names (its
        signature: the pending draft, else the published text). A `Conflict` when the field
        moved on since `version`, or when the text it would approve is no longer the one
        `seen` names; `NeedsText` without either. A stale field needs its text sent: never
        chosen for the editor. Every approval, from every face, comes through here or
        `approve_all`, and both pin it to the text its approver saw."""
        done = self._approve(item, field, editor, version, text, acknowledged, seen=seen)
        self.republish()
        return done

    def to_approve(self, published: Mapping[str, Any], field: str) -> str | None:
        """The text approving `field` as it stands would approve: its pending draft, else its
        published text; None for a stale field (the approver must send one)."""
        entry = published.get("review", {}).get("fields", {}).get(field, {})
        if entry.get("status") == STALE:
            return None
        if entry.get("pending"):
            return str(entry["pending"]["text"])
        try:
            return review.text_of(published, field)
        except (KeyError, TypeError):
            return None

    def _approve(
        self,
        item: str,
        field: str,
        editor: str,
        version: int | None,
        text: str | None = None,
        acknowledged: list[str] | None = None,
        seen: str | None = None,
    ) -> FieldEdits:
        doc = self.machine_doc(item)
        one = self._approval(doc, item, field, version, text, acknowledged, seen)
        return self._save_all(doc, [one], editor)[0]

    def _save_all(self, doc: Mapping[str, Any], saves: list[Save], editor: str) -> list[FieldEdits]:
        """Approvals of one item, in one transaction: all of them or none."""
        source = self.source(doc) if not review.is_story(doc) else None
        return self.store.save_all(self.scope, saves, editor, approve=True, source=source)

    def _approval(
        self,
        doc: dict[str, Any],
        item: str,
        field: str,
        version: int | None,
        text: str | None,
        acknowledged: list[str] | None,
        seen: str | None,
    ) -> Save:
        """The one way in for an approval: the text approved, named by its approver (sent, or
        its signature as shown), checked against what approving would take now."""
        if text is None and seen is None:
            raise NeedsText(
                f"{item} {field}: name the text you approve: the text itself, or its "
                "signature as it was shown to you"
            )
        doc, found = self._target(item, field, text, doc)
        state = self.store.fields(self.scope, item).get(field, FieldEdits())
        if text is None:
            published = apply(doc, {field: state})
            text = self.to_approve(published, field)
            if text is None:
                entry = published["review"]["fields"][field]
                raise ReviewError(
                    f"{item} {field}: the edit is stale ({entry['stale']['reason']}); send the "
                    "text to approve: your earlier text again, or the machine's"
                )
            if review.signature(text) != seen:
                raise Conflict(item, field, state.version, state, text=text)
        return Save(found, text.strip(), version, tuple(acknowledged or ()))

    def item_state(self, item: str) -> dict[str, str]:
        """Each field of an item as an approver sees it: its version and the signature of the
        text approving it would approve. What an item's ETag is made of, so approving a whole
        item refuses anything changed since it was shown, a re-run's new machine text too."""
        doc = self.machine_doc(item)
        published = self.publish({item: doc})[item]
        fields = published.get("review", {}).get("fields", {})
        out = {}
        for f in review.fields(doc):
            text = self.to_approve(published, f)
            version = fields.get(f, {}).get("version", 0)
            out[f] = f"{version}:{review.signature(text) if text is not None else 'stale'}"
        return out

    def withdraw(self, item: str, field: str, editor: str, *, version: int) -> None:
        """Withdraw a field's approval (back to a draft, recorded); the folder republished."""
        self.machine_doc(item)  # an unknown item is one clear error
        if not review.valid_field(field):
            raise ReviewError(f"{item}: no field {field!r}")
        self.store.withdraw(self.scope, item, field, editor, version)
        self.republish()

    def item_sha(self, item: str) -> str:
        """The signature of everything approving `item` whole would approve (its ETag)."""
        return item_etag(self.item_state(item)).strip('"')

    def approve_item(
        self, item: str, editor: str, *, sha: str, force: bool = False
    ) -> list[FieldEdits]:
        """Approve a whole item as it was shown, named by its sha (`item_sha`): a ReviewError
        when anything it would approve changed since (a field that moves on between this check
        and the save is still a `Conflict`, from `approve_all`)."""
        state = self.item_state(item)
        if item_etag(state).strip('"') != sha.strip().strip('"'):
            raise ReviewError(
                f"{item}: changed since you saw it (its sha is no longer {sha}); look at it "
                "again (`summarize review show`) and approve what you see"
            )
        versions, seen = as_shown(state)
        return self.approve_all(item, editor, versions=versions, seen=seen, force=force)

    def approve_all(
        self,
        item: str,
        editor: str,
        *,
        versions: Mapping[str, int] | None,
        seen: Mapping[str, str],
        force: bool = False,
    ) -> list[FieldEdits]:
        """Approve every field of an item (its headline too) as the approver saw it: `seen`,
        each field's signature as shown (`item_state`), is required, and a field whose text
        moved on since is a `Conflict` (a re-run's new machine text too). Open warnings and
        pending drafts are approved only with `force` (listed in each field's review as
        acknowledged); `versions`: the field versions the approver saw."""
        doc = self.machine_doc(item)
        published = self.publish({item: doc})[item]
        pending = open_items(published)
        if pending and not force:
            raise NeedsAcknowledgement(item, pending, open_details(published))
        stale = [
            f
            for f in review.item_fields(published)
            if published["review"]["fields"].get(f, {}).get("status") == STALE
        ]
        if stale:  # refused before anything is saved: never half an item approved
            raise ReviewError(
                f"{item} {', '.join(stale)}: the edit is stale; approve each such field on its "
                "own, with the text you choose"
            )
        saves = []
        try:
            for field in review.item_fields(published):
                entry = published["review"]["fields"].get(field, {})
                if entry.get("status") == APPROVED and not entry.get("pending"):
                    continue
                mine = [p.split(": ", 1)[1] for p in pending if p.startswith(field + ": ")]
                version = None if versions is None else versions.get(field, 0)
                if field not in seen:
                    raise NeedsText(
                        f"{item} {field}: name the text you approve (its signature, as the "
                        "item was shown to you)"
                    )
                saves.append(self._approval(doc, item, field, version, None, mine, seen[field]))
            return self._save_all(doc, saves, editor)  # every field, or (on a conflict) none
        finally:
            self.republish()

    def republish(self) -> None:
        """Rewrite the folder's published files from machine text and the current edits."""
        from summarize.files import write_if_changed
        from summarize.write import BRIEF_FILES, dumps, ninjs_options, write_briefs, write_stories

        results = self._results()
        all_stories = self._stories_file()
        published = self.publish(self._machine_docs(results, all_stories))
        for item, (path, _) in results.items():
            write_if_changed(path, dumps(published[item]))
        if (self.output_dir / "stories.json").exists():
            all_stories = [published.get(review.item_id(s), s) for s in all_stories]
            write_stories(self.output_dir, all_stories)
        batch = self._last_batch({item: path for item, (path, _) in results.items()})
        formats = tuple(f for f in BRIEF_FILES if (self.output_dir / BRIEF_FILES[f]).exists())
        if batch and formats:
            stories = [s for s in all_stories if review.item_id(s) in published]
            write_briefs(
                self.output_dir,
                [published[i] for i in batch],
                formats,
                stories,
                ninjs_options(self.settings),
            )

    def _last_batch(self, files: dict[str, Path]) -> list[str]:
        """The article ids of the last batch's briefs (report.json), in their order."""
        report = _read(self.output_dir / "report.json") or {}
        by_path = {str(p): item for item, p in files.items()}
        out = []
        for source in report.get("sources", []):
            output = source.get("output")
            if output and source.get("status") == "ok":
                item = by_path.get(output) or by_path.get(str(self.output_dir / Path(output).name))
                if item is not None:
                    out.append(item)
        return out


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
