"""Contract tests: the official SDK (`PureCloudPlatformClientV2`) against the emulator.

Every answer must deserialize without error, and without the SDK's silent `outdated_sdk_version`
marker for an enum value it does not know. Each answer's raw JSON is also checked key by key against
the SDK model, so that a misspelt field (which the SDK would drop without a word) fails here.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import PureCloudPlatformClientV2 as gc
import pytest
from PureCloudPlatformClientV2.rest import ApiException

MESSAGES = "/api/v2/conversations/messages"


def walk(value: Any, where: str = "answer") -> None:
    """Fail on the SDK's marker for an unknown enum value, anywhere in a deserialized answer."""
    if isinstance(value, str):
        assert value != "outdated_sdk_version", f"{where}: an enum value the SDK does not know"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            walk(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            walk(item, f"{where}.{key}")
    elif hasattr(value, "swagger_types"):
        for attribute in value.swagger_types:
            walk(getattr(value, attribute), f"{where}.{attribute}")


def covered(raw: Any, model: Any, where: str = "answer") -> None:
    """Every key of the raw JSON maps onto an attribute of the SDK model (recursively)."""
    if isinstance(raw, list) and isinstance(model, list):
        for index, (item, typed) in enumerate(zip(raw, model, strict=True)):
            covered(item, typed, f"{where}[{index}]")
    elif isinstance(raw, dict) and hasattr(model, "attribute_map"):
        by_json = {json_key: attribute for attribute, json_key in model.attribute_map.items()}
        for key, item in raw.items():
            assert key in by_json, f"{where}.{key}: not a field of {type(model).__name__}"
            covered(item, getattr(model, by_json[key]), f"{where}.{key}")


@pytest.fixture
def sdk(emulator: Any) -> gc.ApiClient:
    client = gc.api_client.ApiClient(host=emulator.base_url)
    return client.get_client_credentials_token("emulator", "emulator-secret")


@pytest.fixture
def conversations(sdk: gc.ApiClient) -> gc.ConversationsApi:
    return gc.ConversationsApi(sdk)


def check(answer: Any, raw: Any | None = None) -> Any:
    walk(answer)
    if raw is not None:
        covered(raw, answer)
    return answer


def rich_world(emulator: Any) -> dict[str, str]:
    """Conversations in every state the reaper meets, with every optional field present somewhere."""
    emulator.add_queue("queue-timed", "Timed", inactivityTimeoutSeconds=3600)
    emulator.add_queue(
        "queue-flow", "Flow", inactivityTimeoutSeconds=900, actionType="SEND_TO_ARCHITECT_FLOW"
    )
    idle = emulator.create_conversation(
        {
            "queueId": "queue-timed",
            "participants": [
                {"purpose": "customer", "attributes": {"a": "b"}, "messages": [{"ago": "45m", "text": "hi"}]},
                {"purpose": "acd", "state": "disconnected", "startedAgo": "50m", "endedAgo": "46m"},
                {
                    "purpose": "agent",
                    "wrapupRequired": True,
                    "wrapupTimeoutMs": 60000,
                    "messages": [{"ago": "44m"}],
                },
            ],
        }
    )
    acw = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "disconnected", "endedAgo": "3m", "disconnectType": "peer"},
                {"purpose": "agent", "state": "disconnected", "endedAgo": "3m", "wrapupRequired": True},
                {
                    "purpose": "agent",
                    "state": "disconnected",
                    "endedAgo": "9m",
                    "disconnectType": "transfer.forward",
                    "wrapupRequired": True,
                    "wrapup": {"code": "code-resolved", "notes": "n"},
                },
            ]
        }
    )
    flow = emulator.create_conversation(
        {
            "messageType": "whatsapp",
            "participants": [
                {"purpose": "customer", "messages": [{"ago": "2h"}]},
                {"purpose": "workflow", "state": "connected", "messages": [{"ago": "119m"}]},
            ],
        }
    )
    timed = emulator.create_conversation(
        {
            "queueId": "queue-flow",
            "participants": [
                {"purpose": "customer", "messages": [{"ago": "20m"}]},
                {"purpose": "agent", "state": "alerting"},
            ],
        }
    )
    voice = emulator.create_conversation(
        {"mediaType": "voice", "participants": [{"purpose": "customer"}, {"purpose": "agent"}]}
    )
    # A guest who came back, a parked agent, one who resumed, one who accepted late, one offered.
    presence = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "disconnected", "startedAgo": "3h", "endedAgo": "2h"},
                {
                    "purpose": "customer",
                    "startedAgo": "90m",
                    "connectedAgo": "90m",
                    "messages": [{"ago": "80m"}],
                },
                {"purpose": "agent", "state": "parked", "connectedAgo": "85m", "parkedAgo": "70m"},
                {"purpose": "agent", "connectedAgo": "60m", "parkedAgo": "50m", "resumedAgo": "40m"},
                {"purpose": "agent", "state": "offering"},
                {"purpose": "agent", "state": "contacting"},
            ]
        }
    )
    return {
        "presence": presence["id"],
        "idle": idle["id"],
        "acw": acw["id"],
        "flow": flow["id"],
        "timed": timed["id"],
        "voice": voice["id"],
    }


def test_the_sdk_reads_every_view_of_every_kind_of_conversation(emulator: Any, sdk: gc.ApiClient) -> None:
    ids = rich_world(emulator)
    api = gc.ConversationsApi(sdk)
    emulator.advance(3600)  # the inactivity timers fire: one to a flow, one disconnects

    for name, cid in ids.items():
        generic = check(
            api.get_conversation(cid), emulator.platform.get(f"/api/v2/conversations/{cid}").json()
        )
        assert generic.id == cid and generic.participants, name
        if name != "voice":
            media = check(
                api.get_conversations_message(cid), emulator.platform.get(f"{MESSAGES}/{cid}").json()
            )
            assert media.participants[0].purpose == "customer"
    timed = api.get_conversations_message(ids["timed"])
    assert any(p.purpose == "workflow" and p.state == "connected" for p in timed.participants)
    assert any(p.disconnect_type == "inactivity" for p in timed.participants)


def test_the_sdk_queries_analytics_with_its_own_models(
    emulator: Any, conversations: gc.ConversationsApi
) -> None:
    ids = rich_world(emulator)
    now = emulator.now()
    start = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    end = (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    query = gc.ConversationQuery()
    query.interval = f"{start}/{end}"
    query.order = "asc"
    query.order_by = "conversationStart"
    query.paging = gc.PagingSpec()
    query.paging.page_size = 100
    query.paging.page_number = 1
    unended = gc.ConversationDetailQueryPredicate()
    unended.dimension = "conversationEnd"
    unended.operator = "notExists"
    conversation_filter = gc.ConversationDetailQueryFilter()
    conversation_filter.type = "and"
    conversation_filter.predicates = [unended]
    message = gc.SegmentDetailQueryPredicate()
    message.type = "dimension"
    message.dimension = "mediaType"
    message.operator = "matches"
    message.value = "message"
    segment_filter = gc.SegmentDetailQueryFilter()
    segment_filter.type = "and"
    segment_filter.predicates = [message]
    query.conversation_filters = [conversation_filter]
    query.segment_filters = [segment_filter]

    answer = check(conversations.post_analytics_conversations_details_query(query))
    everything = conversations.post_analytics_conversations_details_query(_interval_only(f"{start}/{end}"))

    found = {c.conversation_id for c in answer.conversations}
    assert found == {ids["idle"], ids["acw"], ids["flow"], ids["timed"], ids["presence"]}
    assert answer.total_hits == 5
    sent = gc.ApiClient().sanitize_for_serialization(query)
    raw = emulator.platform.post("/api/v2/analytics/conversations/details/query", json=sent).json()
    covered(raw, check(answer))
    check(everything)
    assert everything.total_hits == 6


def _interval_only(interval: str) -> gc.ConversationQuery:
    query = gc.ConversationQuery()
    query.interval = interval
    return query


def test_the_sdk_closes_conversations_every_way(emulator: Any, conversations: gc.ConversationsApi) -> None:
    ids = rich_world(emulator)
    idle = conversations.get_conversation(ids["idle"])
    customer = next(p for p in idle.participants if p.purpose == "customer")
    agent = next(p for p in idle.participants if p.purpose == "agent")
    communication = agent.messages[0].id

    attributes = gc.ParticipantAttributes()
    attributes.attributes = {"reaper.rule": "idle"}
    check(
        conversations.patch_conversations_message_participant_attributes(
            ids["idle"], customer.id, body=attributes
        )
    )
    text = gc.AdditionalMessage()
    text.text_body = "This chat was closed because it was inactive."
    sent = check(
        conversations.post_conversations_message_communication_messages(ids["idle"], communication, text)
    )
    assert sent.status == "sent" and sent.direction == "outbound"
    request = gc.MediaParticipantRequest()
    request.state = "disconnected"
    conversations.patch_conversations_message_participant(ids["idle"], agent.id, body=request)
    codes = check(conversations.get_conversations_message_participant_wrapupcodes(ids["idle"], agent.id))
    check(conversations.get_conversation_participant_wrapupcodes(ids["idle"], agent.id))
    wrapup = gc.WrapupInput()
    wrapup.code = codes[1].id
    wrapup.notes = "Closed by session-reaper: idle"
    conversations.post_conversations_message_participant_communication_wrapup(
        ids["idle"], agent.id, communication, body=wrapup
    )
    closed = check(conversations.get_conversation(ids["idle"]))
    assert closed.end_time is not None
    assert next(p for p in closed.participants if p.purpose == "agent").wrapup.code == codes[1].id

    whole = gc.Conversation()
    whole.state = "disconnected"
    after = check(conversations.patch_conversations_message(ids["flow"], whole))
    assert after.end_time is not None

    torn = conversations.post_conversation_disconnect(ids["acw"])
    assert isinstance(torn, str)
    assert check(conversations.get_conversation(ids["acw"])).end_time is not None


def test_the_sdk_raises_api_exception_with_the_error_body(conversations: gc.ConversationsApi) -> None:
    with pytest.raises(ApiException) as missing:
        conversations.get_conversations_message("no-such-conversation")

    assert missing.value.status == 404
    body = json.loads(missing.value.body)
    assert body["code"] == "not.found"
    error = gc.ApiClient().deserialize(_Response(missing.value.body), "ErrorBody")
    check(error, body)


def test_the_sdk_reads_tokens_and_queues(emulator: Any, sdk: gc.ApiClient) -> None:
    rich_world(emulator)
    me = check(gc.TokensApi(sdk).get_tokens_me(), emulator.platform.get("/api/v2/tokens/me").json())
    routing = gc.RoutingApi(sdk)
    queue = check(
        routing.get_routing_queue("queue-timed"),
        emulator.platform.get("/api/v2/routing/queues/queue-timed").json(),
    )
    listing = check(
        routing.get_routing_queues(page_size=1),
        emulator.platform.get("/api/v2/routing/queues?pageSize=1").json(),
    )

    assert me.o_auth_client.id == "emulator"
    assert queue.media_settings.message.enable_inactivity_timeout is True
    assert queue.media_settings.message.inactivity_timeout_settings.action_type == "DISCONNECT"
    assert (listing.total, listing.page_count, len(listing.entities)) == (2, 2, 1)


def test_the_sdk_reads_an_organizations_token_info(emulator: Any) -> None:
    emulator.add_client("sdk-acme", "sdk-acme-secret", organization="acme")
    client = gc.api_client.ApiClient(host=emulator.base_url)
    sdk = client.get_client_credentials_token("sdk-acme", "sdk-acme-secret")
    raw = httpx.get(
        f"{emulator.base_url}/api/v2/tokens/me",
        headers={"Authorization": f"Bearer {sdk.access_token}"},
    ).json()

    me = check(gc.TokensApi(sdk).get_tokens_me(), raw)

    assert me.organization.name == "acme"
    assert me.home_organization.id == me.organization.id
    assert me.o_auth_client.organization.name == "acme"
    assert me.o_auth_client.id == "sdk-acme"


class _Response:
    """What `ApiClient.deserialize` reads: an object with `.data`."""

    def __init__(self, data: str | bytes) -> None:
        self.data = data.decode() if isinstance(data, bytes) else data

    def getheader(self, name: str) -> str | None:
        return "application/json" if name.lower() == "content-type" else None


def test_the_raw_token_answer_is_what_the_sdk_parses(emulator: Any) -> None:
    answer = httpx.post(
        f"{emulator.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("emulator", "emulator-secret"),
    )
    assert json.loads("[" + answer.text + "]")[0]["access_token"]


def test_the_checks_themselves_catch_an_unknown_enum_and_a_stray_field() -> None:
    body = {
        "id": "c",
        "participants": [{"id": "p", "purpose": "customer", "state": "asleep"}],
        "colour": "red",
    }
    raw = json.dumps(body)
    answer = gc.ApiClient().deserialize(_Response(raw), "MessageConversation")

    with pytest.raises(AssertionError, match="enum"):
        walk(answer)
    with pytest.raises(AssertionError, match="colour"):
        covered(json.loads(raw), answer)
