"""Callbacks and uploads: written to the durable outbox first, then delivered with retries."""
