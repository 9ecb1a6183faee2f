"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from tradetalk.accounts.models import User
from tradetalk.attachments.models import Attachment
from tradetalk.conversations.models import (
    Conversation,
    Message,
    Participant,
)
from tradetalk.disputes.models import (
    AuditEntry,
    Dispute,
    SupportGrant,
)
from tradetalk.kit.orm import Base
from tradetalk.marketplace.models import Transaction
from tradetalk.notifications.models import (
    EmailCursor,
    Notification,
    NotificationSettings,
    OutboxItem,
    WebhookDelivery,
)
from tradetalk.offers.models import Offer
from tradetalk.protection.models import (
    ModerationAction,
    ModerationItem,
    Restriction,
    Strike,
    UserBlock,
)
from tradetalk.realtime.models import Event
from tradetalk.record.models import (
    MessageVersion,
    RecordEntry,
)
from tradetalk.shipping.models import ShippingUpdate
from tradetalk.web.models import LoginLink, SavedReply

metadata = Base.metadata

__all__ = [
    "Attachment",
    "AuditEntry",
    "Conversation",
    "Dispute",
    "EmailCursor",
    "Event",
    "LoginLink",
    "Message",
    "MessageVersion",
    "ModerationAction",
    "ModerationItem",
    "Notification",
    "NotificationSettings",
    "Offer",
    "OutboxItem",
    "Participant",
    "RecordEntry",
    "Restriction",
    "SavedReply",
    "ShippingUpdate",
    "Strike",
    "SupportGrant",
    "Transaction",
    "User",
    "UserBlock",
    "WebhookDelivery",
    "metadata",
]
