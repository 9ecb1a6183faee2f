"""Shipping updates: a seller's carrier and tracking number, validated, in the thread."""
