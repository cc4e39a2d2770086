"""How text is read in the lab, twice over.

`model_reads` is what the simulated model makes of text: it strips invisible characters, reads
Unicode tag characters as the ASCII they hide, reads inside HTML and markdown comments, decodes
base64 blobs, and understands a few languages — the way capable LLMs do. `find_instructions` then
finds the requests in it that the model would act on.

`looks_like_injection` is the lab's screening control: a plain-text heuristic of the kind
products ship. It deliberately does not decode anything, so obfuscated payloads slip past it
while the model still reads them — which is why screening alone is not a complete defence.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff]")
TAGS = re.compile("[\U000e0000-\U000e007f]+")
COMMENT = re.compile(r"<!--(.*?)-->|\[//\]: # \((.*?)\)", re.S)
B64 = re.compile(r"\b[A-Za-z0-9+/]{24,}={0,2}")

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"https?://[^\s)\]\"'<>]+")
MD_IMAGE = re.compile(r"!\[([^\]]*)\]\((https?://[^)\s]+)\)")
MD_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((https?://[^)\s]+)\)")

# Verbs in English and a few other languages; enough for the lab's multilingual probes.
SEND = r"(?:e-?mail|send|forward|mail|envoie|envoyez|env[ií]a|enviar|sende|senden|schicke?|invia|inviare|stuur)"
FETCH = r"(?:visit|fetch|open|load|browse(?: to)?|go to|request|retrieve|besuche|visite[zr]?|abre|apri|ouvre)"
REVEAL = r"(?:repeat|print|reveal|show|output|display|tell me|wiederhole|r[ée]p[èe]te|muestra)"
RECORDS = re.compile(r"customer|client|record|orders|database|every(?:one|body)|all (?:the )?(?:data|details)|"
                     r"kunden|clientes|clienti|donn[ée]es", re.I)
APPEND = re.compile(r"append|add|attach|include|with .* (?:in|as) the (?:url|query|link)|"
                    r"h[äa]ng|ajoute|a[ñn]ade|aggiungi", re.I)


def model_reads(text: str) -> str:
    """The text as a capable model understands it, hidden layers included."""
    out = INVISIBLE.sub("", text)
    out = TAGS.sub(lambda m: "".join(chr(ord(c) - 0xE0000) for c in m.group(0)), out)
    extra = [a or b for a, b in COMMENT.findall(out)]
    for blob in B64.findall(out):
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() and sum(c.isalpha() for c in decoded) > len(decoded) // 2:
            extra.append(decoded)
    return "\n".join([out, *extra])


@dataclass(frozen=True)
class Instruction:
    action: str  # email | fetch | image | link | reveal
    target: str = ""  # recipient address or URL
    wants_records: bool = False
    append_data: bool = False
    text: str = ""  # the sentence that asked for it


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def find_instructions(text: str) -> list[Instruction]:
    """Requests in the text that an instruction-following model would carry out. A model reads
    across line breaks, so a request split over two passages is found too."""
    found: list[Instruction] = []
    sentences = _sentences(text)
    sentences += [s for s in _sentences(text.replace("\n", " ")) if s not in sentences]
    for s in sentences:
        records = bool(RECORDS.search(s))
        for m in MD_IMAGE.finditer(s):
            found.append(Instruction("image", m.group(2), records, bool(APPEND.search(s)) or records, s))
        for m in MD_LINK.finditer(s):
            found.append(Instruction("link", m.group(2), records, bool(APPEND.search(s)) or records, s))
        if re.search(rf"\b{SEND}\b", s, re.I):
            addr = EMAIL.search(s)
            if addr:
                found.append(Instruction("email", addr.group(0), records, False, s))
        if re.search(rf"\b{FETCH}\b", s, re.I) and not MD_IMAGE.search(s) and not MD_LINK.search(s):
            url = URL.search(s)
            if url:
                found.append(Instruction("fetch", url.group(0), records, bool(APPEND.search(s)) or records, s))
        said = SAY.search(s)
        if said:
            found.append(Instruction("say", said.group(1).strip(".,;:!?\"'()"), False, False, s))
        if LOOKUP_ALL.search(s) and records:
            found.append(Instruction("lookup-all", "all", True, False, s))
        if re.search(rf"\b{REVEAL}\b.*\b(?:system prompt|instructions|initial prompt|prompt)\b", s, re.I):
            found.append(Instruction("reveal", "", False, False, s))
    unique: dict[tuple[str, str], Instruction] = {}
    for ins in found:
        unique.setdefault((ins.action, ins.target), ins)
    return list(unique.values())


SAY = re.compile(r"(?:start your (?:answer|reply) with|say only|reply only with|append the code|"
                 r"answer everything with|respond with)\s*:?\s*(?:the words?\s+)?(\S+)", re.I)
LOOKUP_ALL = re.compile(r"\b(?:look up|list|show|fetch|give me|summari[sz]e|need)\b.*\b(?:all|every|complete)\b", re.I)

SCREEN = re.compile(
    r"ignore (?:all |any )?(?:previous|prior|above|earlier) (?:instructions|directions)|"
    r"disregard (?:the |your )?(?:previous|prior|system)|you are now|new instructions|system prompt|"
    r"\b(?:e-?mail|send|forward) (?:all|every|the) (?:customer|client|user)|"
    r"!\[[^\]]*\]\(https?://|<!--",
    re.I,
)


def looks_like_injection(text: str) -> str | None:
    """The screening control's verdict: the phrase that gave it away, or None."""
    m = SCREEN.search(text)
    return m.group(0) if m else None
