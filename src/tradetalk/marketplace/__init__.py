"""Transactions synced from the operator; each one can have one conversation."""
