"""The seller dashboard's figures: per-day first-reply times and who is waiting longest."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tradetalk.conversations.schemas import ConversationOut

DAYS = 30
CHART_HEIGHT = 80  # px of the tallest bar (a day's median of 24 h or more)


@dataclass(frozen=True, slots=True)
class DayFigure:
    """One day of the chart: questions asked that day and the median first reply."""

    day: date
    asked: int
    median_minutes: float | None
    height: int  # bar height in px


def daily_first_replies(
    exchanges: list[tuple[datetime, datetime | None]], now: datetime
) -> list[DayFigure]:
    """The last 30 days, oldest first: per day of the buyer's first message, the median
    minutes to the seller's first reply (unanswered ones count with the time waited so far)."""
    first = now.date() - timedelta(days=DAYS - 1)
    waits: dict[date, list[float]] = {first + timedelta(days=i): [] for i in range(DAYS)}
    for asked_at, answered_at in exchanges:
        day = asked_at.date()
        if day in waits:
            waits[day].append(((answered_at or now) - asked_at).total_seconds() / 60)
    figures = []
    for day, minutes in waits.items():
        median = statistics.median(minutes) if minutes else None
        height = 0 if median is None else max(2, round(min(median, 1440) / 1440 * CHART_HEIGHT))
        figures.append(DayFigure(day, len(minutes), median, height))
    return figures


def waiting_longest(conversations: list[ConversationOut], me: str) -> list[ConversationOut]:
    """Conversations whose last word is the other party's, the longest waiting first."""
    waiting = [
        (c.last_message.created_at, c)
        for c in conversations
        if c.last_message is not None
        and c.last_message.sender_id not in (None, me)
        and c.last_message.sender_role.value in ("buyer", "seller")
    ]
    waiting.sort(key=lambda pair: pair[0])
    return [c for _, c in waiting]
