"""Shared building blocks: ORM base, clock, pagination, common schemas."""
