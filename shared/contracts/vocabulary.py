"""The words of the demand lifecycle, defined once (渠道 channels, 复杂度 complexities, 办理结果 outcomes,
满意度 satisfactions, 时钟 clock kinds, 退单 return and 不予受理 rejection reasons).

Event schemas, API schemas and the rules all validate against these."""

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
# Why a holder returns a demand for re-routing (退单 / 改派): it belongs to another street, to another
# department, or to nobody of ours (routing re-decides without the returning officer).
RETURN_REASONS = ("wrong_street", "wrong_department", "not_ours")
# Why a supervisor does not accept a demand (不予受理): outside the government's remit (a private commercial
# dispute, a court's or another authority's matter), or not a demand at all.
REJECT_REASONS = ("private_dispute", "judicial_matter", "other_authority", "not_a_demand")
