"""Disputes, support access to conversations, and the audit log of support work."""
