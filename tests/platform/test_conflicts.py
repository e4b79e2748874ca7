"""A deadlock between two workers' batches is a conflict to run again, not a database outage."""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import OperationalError

from shared.messaging.consumer import is_conflict


def _wrapped(orig: Exception) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


def test_deadlock_and_serialization_failures_are_conflicts():
    assert is_conflict(_wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert is_conflict(_wrapped(psycopg.errors.SerializationFailure("could not serialize")))


def test_a_lost_connection_is_not_a_conflict():
    assert not is_conflict(_wrapped(psycopg.OperationalError("connection refused")))
