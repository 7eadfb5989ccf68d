"""The re-check just before a write: did anyone but the reaper change the conversation since?

Pure: two snapshots and the list of what the reaper itself has done in between. A close can take
several writes (annotate, closing text, one disconnect per agent of a conference or a transfer in
progress); the re-read before each of them must not take the reaper's own earlier writes for
someone else's activity, or it cancels half way and leaves the guest told "closed" with an agent
still there. So the comparison discounts exactly what the reaper's own steps explain:
- its annotation attributes (``ANNOTATION_KEYS``) on any participant;
- its own warning and closing texts (activities marked ``by_reaper``);
- a participant it disconnected: that participant may show ended (or not yet, while the platform
  propagates the change), and may enter or leave after-call work;
- the platform's consequence of those disconnects: once no agent, queue or flow leg is left, the
  guest's leg ends with them.
Everything else cancels: a new message, a participant joining, any other state change, a wrap-up
set by an agent the reaper did not disconnect, an attribute set, the platform's own timer appearing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from session_reaper.core.model import Conversation, Participant, Role

# The participant attributes the reaper writes itself (see plan.annotate): they never cancel an action.
ANNOTATION_KEYS = ("reaper.rule", "reaper.reason", "reaper.closedAt")


def is_exempt(participant: Participant, attribute: str) -> bool:
    return participant.attributes.get(attribute, "").strip().lower() == "true"


def _people_attributes(participant: Participant) -> dict[str, str]:
    return {k: v for k, v in participant.attributes.items() if k not in ANNOTATION_KEYS}


def _new_message(decided: Conversation, fresh: Conversation) -> str | None:
    # A multiset: two messages at the same instant from the same participant are still two messages.
    seen = Counter((a.at, a.participant_id, a.message_id) for a in decided.activities if not a.by_reaper)
    for activity in fresh.activities:
        if activity.by_reaper:
            continue
        key = (activity.at, activity.participant_id, activity.message_id)
        if seen[key] <= 0:
            return f"new message from the {activity.role.value}"
        seen[key] -= 1
    return None


def _standing(p: Participant) -> str:
    """The state in the words both platform views share: the generic view's communication knows only
    alerting/connected/parked/disconnected, where the media view says offering, contacting, none, ...
    (all "not there yet")."""
    if p.ended:
        return "ended"
    return p.state if p.connected or p.parked else "arriving"


def _guest_left_with_the_last_leg(fresh: Conversation, participant: Participant) -> bool:
    """The platform ends the guest's leg when the last agent, queue or flow leg is gone."""
    return (
        participant.role is Role.CUSTOMER
        and participant.ended
        and all(p.ended for p in fresh.participants if p.role is not Role.CUSTOMER)
    )


def changed_since(
    decided: Conversation,
    fresh: Conversation,
    *,
    exempt_attribute: str = "reaper.exempt",
    watch_platform_timer: bool = True,
    disconnected_by_reaper: Collection[str] = (),
) -> str | None:
    """Why the conversation re-read just before acting no longer matches the one decided on, or None.

    `disconnected_by_reaper`: the participants the reaper itself has disconnected since `decided`
    was read; their leaving (and what the platform does because of it) is no one else's activity.
    """
    why = _new_message(decided, fresh)
    if why is not None:
        return why
    before = {p.id: p for p in decided.participants}
    ours = frozenset(disconnected_by_reaper)
    for p in fresh.participants:
        old = before.get(p.id)
        who = p.purpose or p.role.value
        if old is None:
            return f"{who} participant added"
        moved = _standing(old) != _standing(p)
        mine = p.id in ours and (p.ended or not moved)
        consequence = bool(ours) and old.active and _guest_left_with_the_last_leg(fresh, p)
        if moved and not mine and not consequence:
            return f"{who} participant state changed: {old.state} -> {p.state}"
        # Compare what matters, not raw timestamps: the two platform views word after-call work
        # differently. A participant the reaper disconnected enters after-call work because of it.
        if not mine and (old.wrapup != p.wrapup or old.in_after_call_work != p.in_after_call_work):
            return f"{who} wrap-up applied"
        if is_exempt(p, exempt_attribute) and not is_exempt(old, exempt_attribute):
            return f"{who} participant became exempt ({exempt_attribute}=true)"
        if _people_attributes(old) != _people_attributes(p):
            return f"{who} participant attributes changed"
    # Any message moves a running timer (the reaper's own closing text too): only a timer that was
    # not there at the decision means the platform has taken the conversation over.
    if watch_platform_timer and decided.inactivity_timeout is None and fresh.inactivity_timeout is not None:
        return "the platform's inactivity timer was set"
    return None
