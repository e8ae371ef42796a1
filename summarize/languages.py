"""Languages as people name them, and which are written right to left: shared by the briefs,
the desk and the review labels."""

from __future__ import annotations

RTL_LANGS = frozenset({"ar", "fa", "he", "ur", "ps", "sd", "yi", "ug", "dv", "ckb"})
LANG_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fa": "Persian",
    "fr": "French",
    "he": "Hebrew",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "tr": "Turkish",
    "ur": "Urdu",
    "zh": "Chinese",
    "und": "undetermined",
}
NATIVE_NAMES = {
    "ar": "العربية",
    "fr": "Français",
    "es": "Español",
    "de": "Deutsch",
    "fa": "فارسی",
    "he": "עברית",
    "ur": "اردو",
}


def language_name(code: str) -> str:
    return LANG_NAMES.get(code, code)


def is_rtl(code: str) -> bool:
    return code.split("-", 1)[0] in RTL_LANGS
