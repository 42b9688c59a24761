"""The REST API: a WSGI application on WebOb. Routing, auth, JSON and errors; no business logic."""
