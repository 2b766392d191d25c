"""The fake Graph API and the webhook builders, driven by the real pywa_async client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pywa_async import WhatsApp, utils
from pywa_async.errors import (
    ExpiredAccessToken,
    InvalidParameter,
    RateLimitHit,
    ServiceUnavailable,
    ThrottlingError,
    TooManyMessages,
    UnknownError,
    WhatsAppError,
)
from pywa_async.handlers import (
    CallbackButtonHandler,
    CallbackSelectionHandler,
    MessageHandler,
    MessageStatusHandler,
)
from pywa_async.types import (
    Button,
    CallbackButton,
    CallbackSelection,
    Message,
    MessageStatus,
    MessageStatusType,
    MessageType,
    Section,
    SectionList,
    SectionRow,
)

from tests.fake_whatsapp import (
    DISPLAY_PHONE_NUMBER,
    PHONE_ID,
    WABA_ID,
    FakeGraph,
    audio_message,
    bsuid,
    button_reply,
    encode,
    image_message,
    list_reply,
    location_message,
    sign,
    status_update,
    sticker_message,
    text_message,
)

VERSION = "23.0"  # what the app pins; pywa supports Version.GRAPH_API.min ("17.0") and up
SECRET = "app-secret"
PERSON = "447700900123"


def test_version_is_supported() -> None:
    assert (
        float(utils.Version.GRAPH_API.min) <= float(VERSION) <= float(utils.Version.GRAPH_API.value)
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    """A running fake Graph API."""
    async with FakeGraph() as server:
        yield server


def client(fake: FakeGraph, session: httpx.AsyncClient, token: str | None = None) -> WhatsApp:
    """A real pywa_async client whose API calls go to the fake."""
    wa = WhatsApp(
        phone_id=PHONE_ID,
        token=token or fake.token,
        session=session,
        server=None,
        verify_token="verify-me",
        app_secret=SECRET,
        api_version=VERSION,
    )
    # pywa sets base_url to https://graph.facebook.com/v{version} in its constructor.
    session.base_url = f"{fake.url}/v{VERSION}"
    return wa


@pytest.fixture
async def wa(fake: FakeGraph) -> AsyncIterator[WhatsApp]:
    """The client, with its own connection pool."""
    async with httpx.AsyncClient() as session:
        yield client(fake, session)


def rows(count: int, start: int = 0) -> list[SectionRow]:
    """count list rows with unique ids, each valid on its own."""
    return [SectionRow(f"Row {i}", f"row:{i}") for i in range(start, start + count)]


# ------------------------------------------------------------------------------- sending


async def test_send_text(fake: FakeGraph, wa: WhatsApp) -> None:
    sent = await wa.send_message(to=PERSON, text="Hello *there*")
    assert sent.id.startswith("wamid.")
    assert sent.to == PERSON and sent.input == PERSON

    [call] = fake.calls
    assert (call.method, call.path, call.status, call.kind) == (
        "POST",
        f"/v{VERSION}/{PHONE_ID}/messages",
        200,
        "send",
    )
    assert call.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "text",
        "to": PERSON,
        "text": {"body": "Hello *there*", "preview_url": False},
    }
    assert call.response == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": PERSON, "wa_id": PERSON}],
        "messages": [{"id": sent.id}],
    }
    assert fake.sent(PERSON) == [call.body]
    assert fake.texts() == ["Hello *there*"]
    assert fake.message_ids(PERSON) == [sent.id]
    assert fake.sent("447700900999") == []

    again = await wa.send_message(to=f"+{PERSON}", text="Again")
    assert again.id != sent.id
    assert fake.calls[-1].response["contacts"] == [{"input": f"+{PERSON}", "wa_id": PERSON}]
    assert fake.texts(PERSON) == ["Hello *there*", "Again"]


async def test_send_reply_buttons(fake: FakeGraph, wa: WhatsApp) -> None:
    buttons = [Button("Yes", "yes"), Button("No", "no"), Button("Not sure", "maybe")]
    await wa.send_message(to=PERSON, text="Are you safe?", header="Safety", buttons=buttons)
    [body] = fake.sent(PERSON)
    assert body["type"] == "interactive"
    assert body["interactive"]["type"] == "button"
    assert body["interactive"]["header"] == {"type": "text", "text": "Safety"}
    assert body["interactive"]["body"] == {"text": "Are you safe?"}
    assert body["interactive"]["action"]["buttons"][0] == {
        "type": "reply",
        "reply": {"id": "yes", "title": "Yes"},
    }
    assert fake.texts(PERSON) == ["Are you safe?"]


async def test_send_list(fake: FakeGraph, wa: WhatsApp) -> None:
    menu = SectionList(
        button_title="Choose",
        sections=[
            Section(title="Help now", rows=rows(6)),
            Section(title="Later", rows=[SectionRow("Info", "info", description="x" * 72)]),
        ],
    )
    await wa.send_message(to=PERSON, text="What do you need?", buttons=menu)
    [body] = fake.sent(PERSON)
    action = body["interactive"]["action"]
    assert body["interactive"]["type"] == "list"
    assert action["button"] == "Choose"
    assert [len(s["rows"]) for s in action["sections"]] == [6, 1]
    assert fake.texts() == ["What do you need?"]


async def test_mark_as_read_and_typing(fake: FakeGraph, wa: WhatsApp) -> None:
    incoming = text_message(PERSON, "hi")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert await wa.mark_message_as_read(incoming)
    assert fake.calls[-1].body == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": incoming,
    }
    assert fake.calls[-1].response == {"success": True}
    assert await wa.indicate_typing(incoming)
    assert fake.read == [incoming, incoming]
    assert fake.typing == [incoming]
    assert fake.sent() == []  # read receipts are not sends

    with pytest.raises(InvalidParameter):
        await wa.mark_message_as_read("not-a-wamid")


# -------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("buttons", "details"),
    [
        ([Button("x" * 21, "long")], "button title is too long"),
        ([Button(f"B{i}", f"b{i}") for i in range(4)], "1 to 3 buttons"),
        ([Button("Same", "a"), Button("Same", "b")], "duplicate button title"),
        ([Button("A", "same"), Button("B", "same")], "duplicate button id"),
        ([Button("A", "i" * 257)], "button id is too long"),
        (SectionList("Choose", [Section("All", rows(11))]), "Total row count exceed"),
        (
            SectionList("Choose", [Section("One", rows(6)), Section("Two", rows(5, 6))]),
            "Total row count exceed",
        ),
        (SectionList("x" * 21, [Section("All", rows(2))]), "action.button is too long"),
        (SectionList("Choose", [Section("x" * 25, rows(2))]), "section title is too long"),
        (SectionList("Choose", [Section("All", [SectionRow("x" * 25, "a")])]), "row title"),
        (
            SectionList("Choose", [Section("All", [SectionRow("A", "a", description="d" * 73)])]),
            "row description is too long",
        ),
        (SectionList("Choose", [Section("All", [SectionRow("A", "i" * 201)])]), "row id"),
        (
            SectionList("Choose", [Section("", rows(1)), Section("Two", rows(1))]),
            "section title must not be empty",
        ),
        (SectionList("Choose", []), "1 to 10 sections"),
        (SectionList("Choose", [Section("Empty", [])]), "at least one row"),
    ],
)
async def test_limits_are_refused(
    fake: FakeGraph, wa: WhatsApp, buttons: Any, details: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        await wa.send_message(to=PERSON, text="Choose", buttons=buttons)
    error = caught.value
    assert error.code == 131009 and error.status_code == 400
    assert error.message == "(#131009) Parameter value is not valid"
    assert details in (error.details or "")
    assert fake.sent() == []
    assert [c.status for c in fake.calls] == [400]


async def test_section_title_required_with_two_sections(fake: FakeGraph, wa: WhatsApp) -> None:
    fake_list: dict[str, Any] = {
        "button": "Choose",
        "sections": [{"rows": [{"id": "a", "title": "A"}]}, {"rows": [{"id": "b", "title": "B"}]}],
    }
    body = {
        "messaging_product": "whatsapp",
        "to": PERSON,
        "type": "interactive",
        "interactive": {"type": "list", "body": {"text": "Pick"}, "action": fake_list},
    }
    answer = await wa.api._session.post(f"/{PHONE_ID}/messages", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 131009
    assert "section title is required" in answer.json()["error"]["error_data"]["details"]
    # One section needs no title.
    fake_list["sections"].pop()
    assert (await wa.api._session.post(f"/{PHONE_ID}/messages", json=body)).status_code == 200


async def test_text_lengths(fake: FakeGraph, wa: WhatsApp) -> None:
    await wa.send_message(to=PERSON, text="x" * 4096)
    with pytest.raises(InvalidParameter, match=r"text\.body is too long"):
        await wa.send_message(to=PERSON, text="x" * 4097)
    await wa.send_message(to=PERSON, text="x" * 1024, buttons=[Button("OK", "ok")])
    with pytest.raises(InvalidParameter, match=r"body\.text is too long"):
        await wa.send_message(to=PERSON, text="x" * 1025, buttons=[Button("OK", "ok")])
    with pytest.raises(InvalidParameter, match=r"header\.text is too long"):
        await wa.send_message(to=PERSON, text="b", header="h" * 61, buttons=[Button("OK", "ok")])
    assert [len(t) for t in fake.texts(PERSON)] == [4096, 1024]


# -------------------------------------------------------------------------------- faults


async def test_429_surfaces_as_rate_limit(fake: FakeGraph, wa: WhatsApp) -> None:
    fake.fail(429)
    with pytest.raises(RateLimitHit) as caught:
        await wa.send_message(to=PERSON, text="hi")
    assert isinstance(caught.value, ThrottlingError)
    assert caught.value.status_code == 429 and caught.value.code == 130429
    assert caught.value.type == "OAuthException" and caught.value.fbtrace_id
    await wa.send_message(to=PERSON, text="hi")  # only the next send failed
    assert [c.status for c in fake.calls] == [429, 200]
    assert fake.texts(PERSON) == ["hi"]

    fake.fail(429, code=131056)
    with pytest.raises(TooManyMessages) as pair:
        await wa.send_message(to=PERSON, text="hi")
    assert isinstance(pair.value, ThrottlingError) and pair.value.code == 131056


async def test_server_errors(fake: FakeGraph, wa: WhatsApp) -> None:
    fake.fail(500, times=2)
    fake.fail(503)
    for _ in range(2):
        with pytest.raises(UnknownError) as caught:
            await wa.send_message(to=PERSON, text="hi")
        assert caught.value.status_code == 500 and caught.value.is_transient
    with pytest.raises(ServiceUnavailable) as unavailable:
        await wa.send_message(to=PERSON, text="hi")
    assert unavailable.value.status_code == 503 and unavailable.value.code == 131016
    await wa.send_message(to=PERSON, text="hi")
    assert [c.status for c in fake.calls] == [500, 500, 503, 200]


async def test_faults_skip_read_receipts_unless_asked(fake: FakeGraph, wa: WhatsApp) -> None:
    message_id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    fake.fail(503)
    assert await wa.mark_message_as_read(message_id)  # faults wait for a send
    with pytest.raises(ServiceUnavailable):
        await wa.send_message(to=PERSON, text="hi")
    fake.fail(500, target="read")
    await wa.send_message(to=PERSON, text="hi")
    with pytest.raises(UnknownError):
        await wa.mark_message_as_read(message_id)
    assert fake.read == [message_id]


async def test_bad_token_is_401(fake: FakeGraph) -> None:
    async with httpx.AsyncClient() as session:
        wrong = client(fake, session, token="EAAwrong")
        with pytest.raises(ExpiredAccessToken) as caught:
            await wrong.send_message(to=PERSON, text="hi")
    assert caught.value.status_code == 401 and caught.value.code == 190
    assert fake.sent() == []


async def test_unknown_paths_are_404(fake: FakeGraph, wa: WhatsApp) -> None:
    session = wa.api._session
    for method, path in [
        ("POST", "/999/messages"),
        ("GET", f"/{PHONE_ID}/messages"),
        ("POST", f"/{PHONE_ID}/media"),
        ("GET", "/"),
    ]:
        answer = await session.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code == 404, path
        error = answer.json()["error"]
        assert error["code"] in (100, 2500) and error["message"] and error["fbtrace_id"]
    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(to=PERSON, text="hi", sender="999")
    assert caught.value.status_code == 404


async def test_delay_and_wait_for(fake: FakeGraph, wa: WhatsApp) -> None:
    fake.delay = 0.2
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(wa.send_message(to=PERSON, text="slow"))
    await fake.wait_for(lambda: len(fake.calls) == 1)
    assert fake.calls[0].status == 0 and not task.done()  # recorded, not yet answered
    await fake.wait_for(lambda: fake.texts() == ["slow"])
    await task
    assert loop.time() - started >= 0.19
    with pytest.raises(AssertionError, match="condition not met"):
        await fake.wait_for(lambda: False, timeout=0.05)


# ------------------------------------------------------------------------------ webhooks


def test_text_payload_is_shaped_like_metas() -> None:
    payload = text_message(PERSON, "Hello", message_id="wamid.ABC=", timestamp=1739321024)
    assert payload == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_PHONE_NUMBER,
                                "phone_number_id": PHONE_ID,
                            },
                            "contacts": [
                                {
                                    "profile": {"name": "Resident"},
                                    "wa_id": PERSON,
                                    "user_id": bsuid(PERSON),
                                }
                            ],
                            "messages": [
                                {
                                    "from": PERSON,
                                    "from_user_id": bsuid(PERSON),
                                    "id": "wamid.ABC=",
                                    "timestamp": "1739321024",
                                    "type": "text",
                                    "text": {"body": "Hello"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    assert bsuid(PERSON).startswith("GB.") and len(bsuid(PERSON)) == 23
    assert bsuid(PERSON) == bsuid(PERSON) != bsuid("16505551234")
    assert bsuid("16505551234").startswith("US.")


def message_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The one message (or status) a webhook payload carries."""
    value = payload["entry"][0]["changes"][0]["value"]
    return dict(value["messages"][0] if "messages" in value else value["statuses"][0])


def test_payloads_get_fresh_ids_and_string_timestamps() -> None:
    payloads = [
        text_message(PERSON, "a"),
        text_message(PERSON, "a"),
        button_reply(PERSON, "yes", "Yes"),
        list_reply(PERSON, "row:1", "Row 1", "desc"),
        location_message(PERSON, 51.5, -0.19),
        sticker_message(PERSON),
        image_message(PERSON),
        audio_message(PERSON),
    ]
    ids = [message_of(p)["id"] for p in payloads]
    assert len(set(ids)) == len(ids) and all(i.startswith("wamid.") for i in ids)
    assert all(isinstance(message_of(p)["timestamp"], str) for p in payloads)
    button = message_of(payloads[2])
    assert button["context"]["from"] == DISPLAY_PHONE_NUMBER
    assert button["context"]["id"].startswith("wamid.")
    assert button["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "yes", "title": "Yes"},
    }
    assert message_of(button_reply(PERSON, "y", "Y", "wamid.CTX="))["context"]["id"] == "wamid.CTX="
    assert message_of(payloads[3])["interactive"]["list_reply"] == {
        "id": "row:1",
        "title": "Row 1",
        "description": "desc",
    }
    assert (
        "description" not in message_of(list_reply(PERSON, "r", "R"))["interactive"]["list_reply"]
    )
    assert message_of(payloads[4])["location"] == {"latitude": 51.5, "longitude": -0.19}
    sticker, image, audio = (message_of(p) for p in payloads[5:])
    assert (
        sticker["sticker"]["mime_type"] == "image/webp" and sticker["sticker"]["animated"] is False
    )
    assert image["image"]["mime_type"] == "image/jpeg" and "caption" not in image["image"]
    assert audio["audio"]["mime_type"] == "audio/ogg; codecs=opus" and audio["audio"]["voice"]
    assert {"id", "sha256", "url"} <= set(image["image"])


def test_status_payloads() -> None:
    delivered = status_update("wamid.X=", PERSON, timestamp=1739321024)
    value = delivered["entry"][0]["changes"][0]["value"]
    assert value["contacts"] == [{"wa_id": PERSON, "user_id": bsuid(PERSON)}]
    assert value["statuses"] == [
        {
            "id": "wamid.X=",
            "status": "delivered",
            "timestamp": "1739321024",
            "recipient_id": PERSON,
            "recipient_user_id": bsuid(PERSON),
            "pricing": {
                "billable": False,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "service",
            },
        }
    ]
    assert "pricing" not in message_of(status_update("wamid.X=", PERSON, "read"))
    failed = status_update("wamid.X=", PERSON, "failed")
    assert "contacts" not in failed["entry"][0]["changes"][0]["value"]
    assert message_of(failed)["errors"][0]["code"] == 131026
    with pytest.raises(ValueError):
        status_update("wamid.X=", PERSON, "seen")


def test_encode_escapes_like_meta() -> None:
    body = encode(text_message(PERSON, "café https://x.test/a"))
    assert b"caf\\u00e9" in body and b"https:\\/\\/x.test\\/a" in body
    assert b" " not in body.replace(b"caf", b"")[:20]  # compact
    assert json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["text"] == {
        "body": "café https://x.test/a"
    }


async def test_signature_is_checked(wa: WhatsApp) -> None:
    body = encode(text_message(PERSON, "hello"))
    assert sign(body, SECRET).startswith("sha256=") and len(sign(body, SECRET)) == 71
    assert await wa.webhook_update_validator(body, sign(body, SECRET)) is None
    assert await wa.webhook_update_validator(body, sign(body, "other")) == ("Forbidden", 403)
    assert await wa.webhook_update_validator(body + b" ", sign(body, SECRET)) == (
        "Forbidden",
        403,
    )
    assert await wa.webhook_update_validator(body, None) == ("Unauthorized", 401)


class Received:
    """Everything the handlers were given."""

    def __init__(self, wa: WhatsApp) -> None:
        """Register one handler of each kind on wa."""
        self.messages: list[Message] = []
        self.buttons: list[CallbackButton] = []
        self.selections: list[CallbackSelection] = []
        self.statuses: list[MessageStatus] = []
        wa.add_handlers(
            MessageHandler(self.on_message),
            CallbackButtonHandler(self.on_button),
            CallbackSelectionHandler(self.on_selection),
            MessageStatusHandler(self.on_status),
        )

    async def on_message(self, _: WhatsApp, message: Message) -> None:
        """Keep the message."""
        self.messages.append(message)

    async def on_button(self, _: WhatsApp, button: CallbackButton) -> None:
        """Keep the button press."""
        self.buttons.append(button)

    async def on_selection(self, _: WhatsApp, selection: CallbackSelection) -> None:
        """Keep the list choice."""
        self.selections.append(selection)

    async def on_status(self, _: WhatsApp, status: MessageStatus) -> None:
        """Keep the status."""
        self.statuses.append(status)


async def deliver(wa: WhatsApp, payload: dict[str, Any]) -> None:
    """What the app's webhook route does: validate the signature, then handle."""
    body = encode(payload)
    assert await wa.webhook_update_validator(body, sign(body, SECRET)) is None
    assert await wa.webhook_update_handler(body) == ("ok", 200)


async def test_handlers_receive_every_payload(fake: FakeGraph, wa: WhatsApp) -> None:
    got = Received(wa)

    await deliver(wa, text_message(PERSON, "Hello", message_id="wamid.TEXT="))
    [text] = got.messages  # the handler was awaited before webhook_update_handler returned
    assert text.type == MessageType.TEXT and text.text == "Hello" and text.id == "wamid.TEXT="
    assert text.from_user.wa_id == PERSON and text.from_user.name == "Resident"
    assert text.from_user.bsuid == bsuid(PERSON)
    assert text.metadata.phone_number_id == PHONE_ID and text.waba_id == WABA_ID

    await deliver(wa, location_message(PERSON, 51.4991, -0.1938))
    location = got.messages[-1].location
    assert location is not None
    assert (location.latitude, location.longitude) == (51.4991, -0.1938)

    await deliver(wa, sticker_message(PERSON))
    await deliver(wa, image_message(PERSON, caption="my street"))
    await deliver(wa, audio_message(PERSON))
    sticker, image, audio = got.messages[-3:]
    assert sticker.type == MessageType.STICKER and sticker.sticker is not None
    assert image.type == MessageType.IMAGE and image.caption == "my street"
    assert audio.type == MessageType.AUDIO and audio.audio is not None and audio.audio.voice

    await deliver(wa, button_reply(PERSON, "yes", "Yes", context_id="wamid.ASKED="))
    [button] = got.buttons
    assert button.data == "yes" and button.title == "Yes"
    assert button.reply_to_message is not None
    assert button.reply_to_message.id == "wamid.ASKED="

    await deliver(wa, list_reply(PERSON, "row:3", "Row 3", "Or type 3"))
    [selection] = got.selections
    assert selection.data == "row:3" and selection.title == "Row 3"
    assert selection.description == "Or type 3"

    sent = await wa.send_message(to=PERSON, text="Noted")
    await deliver(wa, status_update(sent.id, PERSON, "delivered"))
    await deliver(wa, status_update(sent.id, PERSON, "read"))
    delivered, read = got.statuses
    assert delivered.id == sent.id and delivered.status == MessageStatusType.DELIVERED
    assert delivered.pricing is not None and not delivered.pricing.billable
    assert read.status == MessageStatusType.READ and read.from_user.wa_id == PERSON
    assert len(got.messages) == 5


async def test_reply_through_pywa_goes_to_the_bsuid(fake: FakeGraph, wa: WhatsApp) -> None:
    async def echo(_: WhatsApp, message: Message) -> None:
        await message.mark_as_read()
        await message.reply(f"You said: {message.text}")

    wa.add_handlers(MessageHandler(echo))
    await deliver(wa, text_message(PERSON, "ping", message_id="wamid.PING="))
    assert fake.read == ["wamid.PING="]
    [body] = fake.sent(PERSON)
    # pywa prefers the BSUID to the phone number when it replies to an update.
    assert "to" not in body and body["recipient"] == bsuid(PERSON)
    assert fake.texts(PERSON) == ["You said: ping"]


async def test_pywa_cannot_build_a_failed_status(
    wa: WhatsApp, caplog: pytest.LogCaptureFixture
) -> None:
    # Meta omits value.contacts from failed statuses; pywa 4.5 needs it, logs a KeyError and
    # calls no handler. If this starts failing, pywa has fixed it: failures become visible.
    got = Received(wa)
    with caplog.at_level("ERROR", logger="pywa"):
        await deliver(wa, status_update("wamid.LOST=", PERSON, "failed"))
    assert got.statuses == []
    assert "Failed to construct update" in caplog.text
