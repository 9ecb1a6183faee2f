"""A transcript as a PDF a person can read: the transaction, the parties, every item with its
time, and the chain's final hash. Rendered from the JSON transcript, so both say the same."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

# The 14 standard PDF fonts cover Latin-1 only; a system DejaVu font, where installed, shows
# other scripts too. Nothing is downloaded.
_UNICODE_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)


def _body_font() -> str:
    for path in _UNICODE_FONTS:
        if path.exists():
            if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("DejaVuSans", str(path)))
            return "DejaVuSans"
    return "Helvetica"


def _time(canonical: str | None) -> str:
    if not canonical:
        return "-"
    return canonical[:19].replace("T", " ") + " UTC"


def _text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


def _money(transaction: dict[str, Any]) -> str:
    amount, currency = transaction.get("amount_minor"), transaction.get("currency")
    if amount is None or currency is None:
        return "-"
    return f"{amount / 100:,.2f} {currency}"


class _Styles:
    def __init__(self) -> None:
        base = getSampleStyleSheet()
        font = _body_font()
        self.title = base["Title"]
        self.heading = base["Heading2"]
        self.body = ParagraphStyle("body", parent=base["BodyText"], fontName=font, leading=13)
        self.meta = ParagraphStyle(
            "meta", parent=self.body, fontSize=8, textColor=colors.HexColor("#555555")
        )
        self.note = ParagraphStyle(
            "note", parent=self.body, textColor=colors.HexColor("#8a4b00"), fontSize=9
        )
        self.mono = ParagraphStyle("mono", parent=self.body, fontName="Courier", fontSize=8)


def _describe(entry: dict[str, Any], people: dict[str, str]) -> tuple[str, str | None, bool]:
    """(headline, text, is_note) for one entry."""
    kind, payload = entry["kind"], entry.get("payload")
    if payload is None:
        return f"{kind}: content withheld (a message its sender withdrew)", None, True
    message = payload.get("message_id")
    if kind == "message.posted":
        sender_id = payload.get("sender_id")
        if sender_id is None:
            return f"System note (message #{message})", str(payload.get("body", "")), True
        who = people.get(sender_id, sender_id)
        label = f"{who} ({payload.get('sender_role', '')})"
        return f"{label} wrote (message #{message})", str(payload.get("body", "")), False
    if kind == "message.edited":
        return (
            f"Message #{message} edited (version {payload.get('version')}); it now reads",
            str(payload.get("body", "")),
            True,
        )
    if kind == "message.withdrawn":
        return f"Message #{message} withdrawn by its sender", None, True
    if kind == "dispute.requested":
        who = payload.get("requested_by", "?")
        return (
            f"{people.get(who, who)} asked for a dispute",
            str(payload.get("reason", "")),
            True,
        )
    if kind == "dispute.opened":
        return f"Dispute #{payload.get('id')} opened", str(payload.get("reason", "")), True
    if kind == "dispute.closed":
        resolution = payload.get("resolution")
        return f"Dispute #{payload.get('id')} closed", str(resolution) if resolution else None, True
    return kind, json.dumps(payload, ensure_ascii=False, sort_keys=True), True


def _made_for(transcript: dict[str, Any]) -> str:
    reader = transcript.get("generated_for") or {}
    who = f"{reader.get('user_id', '?')} ({reader.get('capacity', '?')})"
    return _text(f"{_time(transcript.get('generated_at'))} for {who}")


def render(transcript: dict[str, Any]) -> bytes:
    """The PDF of a JSON transcript."""
    styles = _Styles()
    conversation = transcript["conversation"]
    people: dict[str, str] = conversation.get("people") or {}
    transaction = conversation.get("transaction")
    story: list[Flowable] = [
        Paragraph(f"Conversation transcript #{conversation['id']}", styles.title)
    ]
    rows = [
        [
            "Transaction",
            _text(f"{transaction['id']}: {transaction['title']}")
            if transaction
            else "none (direct conversation)",
        ],
        ["Status", transaction["status"] if transaction else "-"],
        ["Amount", _money(transaction) if transaction else "-"],
        ["Conversation started", _time(conversation.get("created_at"))],
        ["Transcript made", _made_for(transcript)],
    ]
    for participant in conversation.get("participants", []):
        name = participant.get("display_name") or participant["user_id"]
        rows.append(
            [participant["role"].capitalize(), _text(f"{name} (id {participant['user_id']})")]
        )
    table = Table(
        [[Paragraph(f"<b>{k}</b>", styles.body), Paragraph(str(v), styles.body)] for k, v in rows],
        colWidths=[40 * mm, 130 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
            ]
        )
    )
    story += [table, Spacer(1, 6 * mm), Paragraph("Record", styles.heading)]
    entries = transcript.get("entries", [])
    if not entries:
        story.append(Paragraph("Nothing has been said in this conversation yet.", styles.body))
    for entry in entries:
        headline, text, is_note = _describe(entry, people)
        story.append(
            Paragraph(
                f"{_time(entry.get('at'))} &middot; entry {entry['index']} &middot; "
                f"hash {entry['hash'][:16]}",
                styles.meta,
            )
        )
        story.append(
            Paragraph(f"<b>{_text(headline)}</b>", styles.note if is_note else styles.body)
        )
        if text:
            story.append(Paragraph(_text(text), styles.body))
        story.append(Spacer(1, 3 * mm))
    story += [
        Spacer(1, 4 * mm),
        Paragraph("Integrity", styles.heading),
        Paragraph(
            f"{transcript['entry_count']} entries, each hashed with the one before it. "
            "Final hash of the chain:",
            styles.body,
        ),
        Paragraph(transcript["final_hash"], styles.mono),
        Paragraph("Server seal:", styles.body),
        Paragraph(transcript.get("seal") or "-", styles.mono),
        Paragraph(
            "Check the JSON transcript of this conversation with "
            "<font face='Courier'>tradetalk verify-transcript FILE</font>; its final hash must "
            "equal the one above.",
            styles.meta,
        ),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Conversation transcript #{conversation['id']}",
        author="tradetalk",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    footer = f"Conversation #{conversation['id']} - final hash {transcript['final_hash'][:16]}"

    def _footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(20 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()
