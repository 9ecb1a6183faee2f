"""Users, named by the operator's own ids."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, UTCDateTime


class User(Base):
    """A marketplace user as the operator last described them."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    is_support: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped to revoke every token issued so far; tokens carry the generation they were made in.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    # The id of the newest event in this user's stream (see realtime).
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
