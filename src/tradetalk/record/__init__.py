"""The record: an append-only, hash-chained ledger of everything said in a conversation."""
