"""Side effects after commit: the outbox, email, webhooks, the feed, reminders."""
