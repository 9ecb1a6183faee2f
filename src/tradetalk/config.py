"""Typed settings, read from the environment with the TRADETALK_ prefix."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def async_database_url(url: str) -> str:
    """Turn a plain `sqlite:///path` or `postgresql://...` URL into its async-driver form."""
    if url.startswith(("sqlite:", "sqlite+pysqlite:")):
        return "sqlite+aiosqlite:" + url.split(":", 1)[1]
    for prefix in ("postgresql+psycopg2:", "postgresql+psycopg:", "postgresql:", "postgres:"):
        if url.startswith(prefix):
            return "postgresql+asyncpg:" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Everything an operator can configure; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="TRADETALK_", extra="ignore")

    database_url: str = "sqlite:///var/tradetalk.db"
    server_api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False

    direct_messages: bool = False
    direct_conversations_per_day: int = Field(default=10, ge=0)
    rate_limits: bool = True
    messages_per_minute: int = Field(default=30, ge=1)
    direct_messages_per_minute: int = Field(default=10, ge=1)

    token_default_ttl_seconds: int = Field(default=3600, ge=60)
    token_max_ttl_seconds: int = Field(default=86400, ge=60)
    max_body_chars: int = Field(default=5000, ge=1)

    # An offer without its own expires_at lapses after this many hours (0: never).
    offer_ttl_hours: int = Field(default=48, ge=0)
    # The furthest ahead an offer's expires_at may be.
    offer_max_ttl_days: int = Field(default=30, ge=1)
    # The record (see docs/disputes.md).
    edit_window_seconds: int = Field(default=900, ge=0)
    retention_days: int = Field(default=730, ge=0)
    dispute_hold_days: int = Field(default=90, ge=0)
    support_grant_max_seconds: int = Field(default=7 * 86400, ge=60)

    notify_delay_seconds: int = Field(default=300, ge=0)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    smtp_url: str | None = None
    media_dir: Path = Path("var/media")

    # The contact-information shield (see docs/configuration.md).
    shield_policy: dict[str, str] = Field(
        default_factory=dict,
        description='Per-kind overrides as JSON, e.g. {"phone": "mask", "solicitation": "block"}.',
    )
    shield_region: str = "US"
    shield_allowed_domains: Annotated[list[str], NoDecode] = []
    shield_allowed_emails: Annotated[list[str], NoDecode] = []
    shield_history: int = Field(default=5, ge=0, le=20)
    strike_window_days: int = Field(default=30, ge=1)
    strike_pause_threshold: int = Field(default=3, ge=1)
    strike_pause_hours: int = Field(default=24, ge=1)
    strike_restrict_threshold: int = Field(default=5, ge=1)
    # Attachments (docs/attachments.md). S3 is used when a bucket is set, media_dir otherwise.
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    attachments_per_minute: int = Field(default=30, ge=1)
    unclaimed_attachment_ttl_seconds: int = Field(default=86400, ge=60)
    attachment_purge_interval_seconds: int = Field(default=900, ge=1)
    attachment_contact_policy: Literal["block", "flag"] = "block"
    ocr: bool = True
    ocr_languages: str = "eng"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # Notifications (docs/notifications.md).
    worker_embedded: bool = True  # run the outbox worker inside `tradetalk serve`
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    worker_lease_seconds: int = Field(default=120, ge=5)
    worker_batch_size: int = Field(default=20, ge=1, le=500)
    outbox_max_attempts: int = Field(default=10, ge=1)
    outbox_backoff_seconds: float = Field(default=10.0, gt=0)
    mail_dir: Path = Path("var/mail")
    mail_domain: str | None = None  # default: the host of public_url
    mail_from: str | None = None  # default: "tradetalk <notifications@MAIL_DOMAIN>"
    relay_domain: str | None = None  # where replies go; default: mail_domain
    smtp_listen: str | None = None  # "host:port" of the reply-by-email SMTP listener
    email_content: Literal["full", "preview"] = "full"
    digest_hour_utc: int = Field(default=17, ge=0, le=23)
    conversation_url: str = "{public_url}/inbox/{conversation_id}"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    inbound_max_bytes: int = Field(default=2_000_000, ge=1000)
    public_stats_per_minute: int = Field(default=60, ge=1)
    # The event stream (see docs/realtime.md).
    redis_prefix: str = "tradetalk"  # Redis channel names start with this
    event_retention_hours: int = Field(default=72, ge=1)  # older events are pruned
    event_replay_limit: int = Field(default=1000, ge=1)  # more missed than this: resync
    realtime_heartbeat_seconds: float = Field(default=25.0, gt=0)
    # Revocation reaches open streams at once through the broker; this re-check is the net for
    # the rare news the broker lost (a failed Redis publish).
    realtime_auth_recheck_seconds: float = Field(default=300.0, gt=0)
    realtime_send_timeout_seconds: float = Field(default=10.0, gt=0)  # then: slow consumer
    realtime_queue_max: int = Field(default=256, ge=1)  # frames waiting per connection
    # permessage-deflate costs ~37 KB of zlib state per socket and saves little on small frames.
    ws_compression: bool = False

    # The web pages (see docs/web.md).
    login_link_ttl_seconds: int = Field(default=300, ge=30, le=86400)
    web_session_hours: int = Field(default=12, ge=1, le=24 * 30)

    # Abuse limits (docs/security.md). TRADETALK_RATE_LIMITS=false turns all of them off.
    # Per user, on top of the ones above:
    conversations_per_hour: int = Field(default=5, ge=1)  # new direct conversations
    login_links_per_hour: int = Field(default=10, ge=1)  # sign-in links made for one user
    typing_per_minute: int = Field(default=60, ge=1)  # typing signals, all conversations
    # Per client address, across users (0 turns one off, e.g. when every request comes from
    # your own backend):
    ip_messages_per_minute: int = Field(default=600, ge=0)
    ip_conversations_per_hour: int = Field(default=100, ge=0)
    ip_uploads_per_minute: int = Field(default=300, ge=0)
    ip_login_links_per_minute: int = Field(default=30, ge=0)  # sign-in links followed
    ip_typing_per_minute: int = Field(default=600, ge=0)
    # Addresses (or networks, or "*") of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. Nobody's by default: the client is the connection's peer.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Request and connection bounds.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)  # uploads have their own
    ws_max_message_bytes: int = Field(default=4096, ge=256)  # frames from clients
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)  # request line + headers
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)  # to send them all
    # Longer than the idle timeout of the proxies and clients that keep connections to us
    # (nginx upstream and AWS load balancers 60 s, httpx 5 s): the side that closes an idle
    # connection first must be the client, or a request it sends as we close it is reset.
    http_keep_alive_seconds: int = Field(default=75, ge=1)
    http_max_connections: int = Field(default=10_000, ge=1)  # then 503
    hsts_seconds: int = Field(default=365 * 86400, ge=0)  # over https only; 0: no HSTS

    log_level: str = "INFO"
    log_json: bool = True
    db_pool_size: int = Field(default=10, ge=1)
    # PostgreSQL away (docs/scaling.md): how long a new connection may take to open, and a request
    # may wait for a pooled one, before it is answered 503; pre_ping checks a pooled connection
    # before use, so the first requests after a restart do not draw dead ones.
    db_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_pool_pre_ping: bool = True
    # PostgreSQL statements are prepared once per connection and reused (named prepared
    # statements). pgbouncer older than 1.21 in transaction mode cannot carry those: false
    # prepares each statement anew under a unique name (docs/scaling.md, pgbouncer).
    db_statement_cache: bool = True
    allowed_origins: Annotated[list[str], NoDecode] = []

    @field_validator(
        "allowed_origins",
        "shield_allowed_domains",
        "shield_allowed_emails",
        "trusted_proxies",
        mode="before",
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("shield_policy")
    @classmethod
    def _check_policy(cls, value: dict[str, str]) -> dict[str, str]:
        from tradetalk.protection.policy import full_policy

        full_policy(value)  # raises on an unknown kind or action
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from standardwebhooks.webhooks import Webhook

            try:
                Webhook(value.get_secret_value())
            except Exception as exc:
                raise ValueError(
                    "must be 'whsec_' followed by base64 (see docs/notifications.md)"
                ) from exc
        return value

    @property
    def effective_mail_domain(self) -> str:
        """The domain of our own email addresses (Message-ID, From)."""
        return self.mail_domain or urlsplit(self.public_url).hostname or "localhost"

    @property
    def effective_relay_domain(self) -> str:
        """The domain of reply-by-email addresses."""
        return self.relay_domain or self.effective_mail_domain

    @property
    def effective_mail_from(self) -> str:
        """The From header of every email we send."""
        return self.mail_from or f"tradetalk <notifications@{self.effective_mail_domain}>"

    @cached_property
    def async_database_url(self) -> str:
        """The database URL with the async driver the app uses."""
        return async_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is in use."""
        return self.async_database_url.startswith("sqlite")

    def secret_bytes(self) -> bytes:
        """The signing secret; `create_app` refuses to start without one."""
        if self.secret_key is None:
            raise RuntimeError("TRADETALK_SECRET_KEY is not set")
        return self.secret_key.get_secret_value().encode()
