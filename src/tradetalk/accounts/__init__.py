"""Users synced from the operator, user tokens and the server API key."""
