"""The words of the demand lifecycle, defined once (渠道 channels, 复杂度 complexities, 办理结果 outcomes,
满意度 satisfactions, 时钟 clock kinds). Event schemas, API schemas and the rules all validate against these."""

from __future__ import annotations

# Where a demand came in: grid worker, 12345 hotline, online help desk, the "can't-get-it-done" window
# (办不成事窗口), a visit to a service hall.
CHANNELS = ("grid", "hotline_12345", "online_helpdesk", "fallback_window", "walk_in")
# The "151030" rule: 5, 10 or 30 working days to resolve, by complexity.
COMPLEXITIES = ("simple", "complex", "difficult")
OUTCOMES = ("resolved", "explained", "unresolvable")
SATISFACTIONS = ("satisfied", "basically_satisfied", "unsatisfied")
CLOCK_KINDS = ("first_response", "resolution")
# Where routing put a demand: an officer's queue, or the street's unassigned queue.
QUEUES = ("officer", "street_unassigned")
