"""Durable per-user events and their fan-out to connected clients."""
