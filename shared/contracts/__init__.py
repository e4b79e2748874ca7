"""What the services agree on: the event envelope and catalogue, the vocabulary, the reference data.

Nothing here knows a service, a database or Flask; every service and the pages import their words
from here, so a channel, an outcome or an event type is spelled in exactly one place.
"""
