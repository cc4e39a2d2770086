"""Planted text as a PDF, for apps that take nothing else ("chat with your PDF"): one page of
plain text in a standard font, which any PDF reader extracts as it was written."""

from __future__ import annotations

PDF = "application/pdf"


def as_pdf(text: str) -> bytes:
    """The text as a PDF document. ValueError when it holds characters the standard fonts cannot
    (they cover Latin-1): dropped, they would leave a different payload — the whole of one hidden
    in Unicode tag characters — and the case would test what nobody asked."""
    outside = sorted({c for c in text if ord(c) > 0xFF})
    if outside:
        shown = ", ".join(f"U+{ord(c):04X}" for c in outside[:3]) + (", …" if len(outside) > 3 else "")
        raise ValueError(f"a PDF in a standard font holds Latin-1 text only, and this document has {shown}")
    from fpdf import FPDF  # the `pdf` extra: checked when the spec that asks for PDFs is read

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, text)
    return bytes(pdf.output())
