"""Review: editors correct and approve machine text, and only approved text is published as
reviewed. One package for the whole loop, the CLI (`summarize review`) and the service's desk
routes being thin faces over it:

- `model`: the fields of a result or story, what an edit is made against, when it is stale;
- `store`: the edits file (scopes, versions, a draft apart from the approved text, the log);
- `publish`: the one path from machine documents and edits to what is published, checks
  rerun on approved text;
- `desk`: the items of a folder or job and the operations on them.
"""

from summarize.review.model import (
    APPROVED,
    DRAFT,
    MAX_FIELD_CHARS,
    STALE,
    STORY_PREFIX,
    field_label,
    fields,
    for_editor,
    input_hash,
    is_story,
    item_fields,
    item_id,
    machine_fields,
    signature,
    stages,
    status,
    target,
    text_of,
    valid_field,
    when,
    word_diff,
)
from summarize.review.publish import (
    apply,
    approved_only,
    is_published,
    machine_doc,
    open_details,
    open_items,
    publish,
    published_text,
)
from summarize.review.store import EDITS_FILE, FOLDER, Conflict, Edit, EditStore, FieldEdits

__all__ = [
    "APPROVED",
    "DRAFT",
    "EDITS_FILE",
    "FOLDER",
    "MAX_FIELD_CHARS",
    "STALE",
    "STORY_PREFIX",
    "Conflict",
    "Edit",
    "EditStore",
    "FieldEdits",
    "apply",
    "approved_only",
    "field_label",
    "fields",
    "for_editor",
    "input_hash",
    "is_published",
    "is_story",
    "item_fields",
    "item_id",
    "machine_doc",
    "machine_fields",
    "open_details",
    "open_items",
    "publish",
    "published_text",
    "signature",
    "stages",
    "status",
    "target",
    "text_of",
    "valid_field",
    "when",
    "word_diff",
]
