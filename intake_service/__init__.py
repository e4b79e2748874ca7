"""Intake service: every channel logs an enterprise demand here; the reporter's view of its progress."""
