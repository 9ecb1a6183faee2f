"""Alembic migrations, shipped inside the package so that `tradetalk serve` can run them."""
