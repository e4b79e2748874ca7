"""Routing service: the right officer at once, the officers' queues and the actions they take."""
