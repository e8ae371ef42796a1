"""Text out of the formats newsrooms paste: bytes in any common encoding, Markdown and HTML.

Helpers for ingest; no models, no I/O beyond the bytes given.
"""

from __future__ import annotations

from dataclasses import dataclass

from summarize.errors import InputError

# Encodings a newsroom meets, in order of preference when two decode equally cleanly: Western
# European first (latin-1 text is valid cp1252), then Arabic, then the rest.
CANDIDATES = (
    "cp1252",
    "iso8859_15",
    "cp1256",
    "iso8859_6",
    "cp1250",
    "iso8859_2",
    "cp1251",
    "koi8_r",
    "cp1253",
    "iso8859_7",
    "cp1254",
    "cp1255",
    "iso8859_8",
    "gb18030",
    "big5",
    "shift_jis",
    "euc_jp",
    "euc_kr",
)
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    method: str  # bom, utf-8 or detected
    confidence: float


def decode(data: bytes, source: str) -> Decoded:
    """A BOM if present; else strict UTF-8; else the charset detector's best guess among common
    news encodings. Binary data is refused: "not a text file"."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(
                    Decoded(data[len(bom) :].decode(encoding), encoding, "bom", 1.0), source
                )
            except UnicodeDecodeError:
                raise InputError(
                    source, f"starts with a {encoding} BOM but is not valid {encoding}"
                ) from None
    if b"\x00" in data:
        raise InputError(source, "not a text file (it contains NUL bytes)")
    try:
        return _checked(Decoded(data.decode("utf-8"), "utf-8", "utf-8", 1.0), source)
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=list(CANDIDATES)))
    if not matches:
        raise InputError(source, "not UTF-8, and no common encoding fits; save it as UTF-8")
    best = min(
        matches,
        key=lambda m: (
            round(m.percent_chaos, 1),
            CANDIDATES.index(m.encoding) if m.encoding in CANDIDATES else len(CANDIDATES),
        ),
    )
    confidence = round(max(0.0, 1.0 - best.percent_chaos / 100.0), 3)
    return _checked(Decoded(str(best), best.encoding, "detected", confidence), source)


def _checked(decoded: Decoded, source: str) -> Decoded:
    text = decoded.text
    controls = sum(1 for ch in text if not ch.isprintable() and not ch.isspace())
    if text and controls > 0.1 * len(text):
        raise InputError(source, "not a text file (mostly non-printable characters)")
    return decoded


def markdown_text(source_text: str) -> tuple[str, str | None]:
    """Plain text of a Markdown article (markup stripped) and its first heading as the title."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(source_text)
    blocks: list[str] = []
    title: str | None = None
    in_heading = False
    for token in tokens:
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "inline":
            # A line break inside a paragraph has no content in markdown-it: it is a space.
            text = "".join(
                " " if child.type in ("softbreak", "hardbreak") else child.content
                for child in token.children or []
                if child.type in ("text", "code_inline", "softbreak", "hardbreak", "image")
            ).replace("\n", " ")
            text = " ".join(text.split())
            if not text:
                continue
            if in_heading and title is None:
                title = text
                continue
            blocks.append(text)
        elif token.type in ("code_block", "fence"):
            continue  # code is not article text
    return "\n\n".join(blocks), title


class MissingDependency(InputError):
    """A format this environment cannot read: a package it needs does not import."""

    def __init__(self, reason: str) -> None:
        super().__init__("", reason)


def html_text(source_text: str) -> tuple[str, str | None, str | None]:
    """Main text, title and publication date of a web page (`article:published_time`, JSON-LD
    `datePublished` and the like, as trafilatura reads them); navigation, widgets and footers
    are dropped."""
    try:
        import trafilatura
    except ImportError as exc:  # its jusText needs lxml_html_clean, which old pips skip
        raise MissingDependency(
            f"HTML cannot be read: trafilatura does not import ({exc}); "
            "run `pip install lxml_html_clean trafilatura` in this environment"
        ) from None

    doc = trafilatura.bare_extraction(
        source_text,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    text = getattr(doc, "text", None) or ""
    title = getattr(doc, "title", None)
    return text, title, getattr(doc, "date", None) or None
