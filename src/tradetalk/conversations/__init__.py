"""Conversations, their participants, messages, read state and search."""
