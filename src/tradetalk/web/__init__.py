"""The web pages: sign-in by link, the inbox and the thread, on the API's own services."""
