"""Text from manifests and targets, made safe for where it is shown: no terminal control sequences
or invisible characters anywhere, and in Markdown nothing that links, mentions or notifies."""

from __future__ import annotations

import re

# C0 and C1 controls but tab and newline (ESC starts clear-screen, OSC 8 links and OSC 52 clipboard
# writes), zero-width and direction marks, and the invisible Unicode tag characters.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\U000e0000-\U000e007f]")
# What a Markdown renderer such as GitHub's turns into a link or a notification, beyond the syntax
# characters: URLs (their ://), bare www. hosts, and issue references of the GH-123 form (@ is escaped
# anyway).
_WWW = re.compile(r"\b(www)\.", re.I)
_GH_REF = re.compile(r"\b(GH)-(\d)", re.I)


def clean(value: object) -> str:
    """Drop terminal control sequences and invisible characters from untrusted text."""
    return CONTROL_CHARS.sub("", str(value))


def inert_markdown(text: str) -> str:
    """Untrusted text made inert inside Markdown (a table cell, a list item): no HTML, links, images,
    autolinks, @mentions or issue references — each special character as an HTML entity."""
    out = []
    for ch in clean(text).replace("\r", " ").replace("\n", " "):
        # Parentheses stay: with the brackets escaped no link or image can form, and they read as written.
        out.append(f"&#{ord(ch)};" if ch in "\\`*_{}[]<>#+!|~&\"'@" else ch)
    escaped = "".join(out).replace("://", "&#58;//")  # no scheme, no autolink
    return _GH_REF.sub(r"\1&#45;\2", _WWW.sub(r"\1&#46;", escaped))
