"""Offers and counteroffers: first-class, stateful items of a conversation."""
