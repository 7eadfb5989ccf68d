"""The events mode's doctor check: can a notification channel be created, and which queue topics does
the platform reject (those queues are polled instead)?

One channel is created and the queues in scope are subscribed, as `serve` would; the subscriptions
are cleared afterwards (the channel itself cannot be deleted: it expires unused, and a 21st channel
replaces the oldest unused one).
"""

from __future__ import annotations

from session_reaper.commands.doctor.verdicts import Check, Diagnosis, Status
from session_reaper.config import Settings
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.errors import GenesysError, PermissionMissing
from session_reaper.genesys.notifications import (
    MAX_TOPICS,
    QUEUE_TOPIC,
    NotificationsApi,
    queue_of,
    queue_topic,
)

MAX_LISTED = 25


async def notifications_check(api: GenesysApi, settings: Settings, diagnosis: Diagnosis) -> None:
    if settings.sweep.mode != "events":
        diagnosis.add(Check("notifications", Status.SKIP, 'not needed: [sweep] mode = "poll"'))
        return
    notifications = NotificationsApi(api)
    try:
        channel = await notifications.create_channel()
    except GenesysError as exc:
        code = EXIT_AUTH if isinstance(exc, PermissionMissing) else EXIT_ACTION_FAILED
        diagnosis.add(
            Check(
                "notification channel",
                Status.FAIL,
                f"cannot be created: {exc}",
                "events mode needs POST /api/v2/notifications/channels; until then serve polls",
            ),
            exit_code=code,
        )
        return
    diagnosis.add(Check("notification channel", Status.OK, f"created ({channel.id})"))
    await _available(notifications, diagnosis)
    queues = await _queues(api, settings, diagnosis)
    if queues is None:
        return
    rejected: dict[str, str] = {}
    try:
        for start in range(0, len(queues), MAX_TOPICS):
            topics = [queue_topic(q) for q in queues[start : start + MAX_TOPICS]]
            subscribed = await notifications.subscribe(channel.id, topics)
            rejected.update({queue_of(t) or t: why for t, why in subscribed.rejected.items()})
            await notifications.subscribe(channel.id, [])  # leave nothing subscribed
    except GenesysError as exc:
        diagnosis.add(
            Check("queue topics", Status.FAIL, f"cannot subscribe: {exc}"), exit_code=EXIT_ACTION_FAILED
        )
        return
    permitted = len(queues) - len(rejected)
    status = Status.OK if not rejected else Status.WARN
    diagnosis.add(Check("queue topics", status, f"{permitted} of {len(queues)} queue topic(s) permitted"))
    for queue_id, why in sorted(rejected.items())[:MAX_LISTED]:
        diagnosis.add(
            Check(
                f"topic rejected: queue {queue_id}",
                Status.WARN,
                f"{why}: serve polls this queue instead (every [sweep] interval)",
                "grant the permission the platform names to the OAuth client's role",
            )
        )
    if len(rejected) > MAX_LISTED:
        diagnosis.add(Check("more rejected topics", Status.WARN, f"{len(rejected) - MAX_LISTED} more"))


async def _available(notifications: NotificationsApi, diagnosis: Diagnosis) -> None:
    """Whether the platform lists the queue messages topic among the client's available topics."""
    try:
        topics = await notifications.available_topics()
    except GenesysError as exc:
        diagnosis.add(Check("available topics", Status.WARN, f"could not be listed: {exc}"))
        return
    wanted = QUEUE_TOPIC.format("{id}")
    found = next((t for t in topics if t.get("id") == wanted), None)
    if found is not None:
        needs = ", ".join(str(p) for p in found.get("requiresPermissions") or []) or "no permission listed"
        diagnosis.add(Check("available topics", Status.OK, f"{wanted} (needs {needs})"))
    else:
        diagnosis.add(
            Check("available topics", Status.WARN, f"{wanted} is not among the {len(topics)} listed")
        )


async def _queues(api: GenesysApi, settings: Settings, diagnosis: Diagnosis) -> list[str] | None:
    include, exclude = settings.sweep.queues.include, set(settings.sweep.queues.exclude)
    if include:
        return sorted(set(include) - exclude)
    try:
        return sorted({str(q["id"]) async for q in api.list_queues() if q.get("id")} - exclude)
    except GenesysError as exc:
        diagnosis.add(
            Check(
                "queue topics",
                Status.WARN,
                f"not checked: the queues cannot be listed ({exc}); serve polls every queue",
                "grant routing:queue:view, or name the queues in [sweep] queues.include",
            )
        )
        return None
