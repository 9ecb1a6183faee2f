"""Attachments: upload, content checks, sanitising (images re-encoded), storage backends."""
