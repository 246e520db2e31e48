"""Celery tasks: thin adapters between the portal's rows and the libraries (which load inside task bodies)."""
