"""A fake WhatsApp Cloud API (Graph API) on 127.0.0.1, and the webhook payloads Meta would send."""

# The server speaks the wire format pywa uses: POST {url}/v{version}/{phone_id}/messages with a
# JSON body and "Authorization: Bearer <token>". A message send answers
# {"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}; a read
# receipt (a body with "status": "read", optionally with a typing indicator) answers
# {"success": true}; an error answers {"error": {"message", "type", "code", "error_data",
# "fbtrace_id"}} with a 4xx or 5xx status, which pywa turns into the WhatsAppError subclass of
# that code. Sends are checked against WhatsApp's documented limits, so a test fails the way
# production would when the bot breaks one.
#
# The payload builders follow Meta's webhook reference field by field, including the
# business-scoped user ids (BSUIDs) Meta has added since March 2026: contacts[].user_id,
# messages[].from_user_id, statuses[].recipient_user_id, and a contacts array on status webhooks.
# pywa 4.5 needs them: without contacts[].user_id it cannot build a Message, and without
# value.contacts it cannot build a MessageStatus (it logs the error and calls no handler).

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import phonenumbers

from tests.fake_server import LocalServer, Stall, hold, read_body

JSON = dict[str, Any]
Scope = MutableMapping[str, Any]
AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]
Target = Literal["send", "read", "any"]

# Meta's own example values (webhook reference): the business number, its id, its account.
PHONE_ID = "106540352242922"  # the business number id used by tests
WABA_ID = "102290129340398"  # the WhatsApp Business Account id webhooks come from
DISPLAY_PHONE_NUMBER = "15550783881"
RESIDENT = "Resident"  # the profile name of every fake person

# WhatsApp's limits, in characters.
MAX_TEXT = 4096  # text.body
MAX_BODY = 1024  # interactive.body.text
MAX_HEADER = 60  # interactive.header.text
MAX_FOOTER = 60  # interactive.footer.text
MAX_BUTTONS, MAX_BUTTON_TITLE, MAX_BUTTON_ID = 3, 20, 256
MAX_LIST_BUTTON, MAX_SECTIONS, MAX_ROWS = 20, 10, 10
MAX_SECTION_TITLE, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION, MAX_ROW_ID = 24, 24, 72, 200

MESSAGE_TYPES = frozenset(
    {
        "audio",
        "contacts",
        "document",
        "image",
        "interactive",
        "location",
        "reaction",
        "sticker",
        "template",
        "text",
        "video",
    }
)
MEDIA_TYPES = frozenset({"audio", "document", "image", "sticker", "video"})
INTERACTIVE_TYPES = frozenset(
    {
        "button",
        "call_permission_request",
        "catalog_message",
        "cta_url",
        "flow",
        "list",
        "location_request_message",
        "product",
        "product_list",
        "voice_call",
    }
)
STATUSES = frozenset({"sent", "delivered", "read", "played", "failed"})

# The Graph API's message for each error code (the "(#code)" prefix is the Graph's own).
ERROR_MESSAGES = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "(#4) Application request limit reached",
    10: "(#10) Application does not have permission for this action",
    100: "(#100) Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    80007: "(#80007) Rate limit issues",
    130429: "(#130429) Rate limit hit",
    131000: "(#131000) Something went wrong",
    131008: "(#131008) Required parameter is missing",
    131009: "(#131009) Parameter value is not valid",
    131016: "(#131016) Service unavailable",
    131026: "(#131026) Message undeliverable",
    131047: "(#131047) Re-engagement message",
    131048: "(#131048) Spam rate limit hit",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
}
ERROR_DETAILS = {
    130429: "Cloud API message throughput has been reached.",
    131000: "Something went wrong. Please try again later.",
    131016: "A service is temporarily unavailable. Please try again later.",
    131026: "Message undeliverable.",
    131047: (
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number."
    ),
    131048: (
        "Message failed to send because there are restrictions on how many messages can be sent "
        "from this phone number."
    ),
    131056: (
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time."
    ),
}
DEFAULT_CODES = {400: 131009, 401: 190, 403: 10, 404: 100, 429: 130429, 500: 131000}


@dataclass
class Call:
    """One request the fake received: HTTP verb, path, JSON body, and the status it answered."""

    method: str
    path: str
    body: JSON
    # 0 until the answer is ready, and for good if stall() dropped the call unanswered
    status: int = field(default=0, compare=False)
    kind: str = field(default="", compare=False)  # "send", "read", or "" for anything else
    response: JSON = field(default_factory=dict, compare=False)
    at: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True)
class _Fault:
    """An error answer queued by FakeGraph.fail."""

    status: int
    code: int
    target: Target


class GraphError(Exception):
    """An error answer, raised while handling a request."""

    def __init__(
        self,
        status: int,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        error_type: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        """Keep the HTTP status and the parts of the Graph API's error object."""
        self.message = message or ERROR_MESSAGES.get(code, f"(#{code}) Error")
        super().__init__(self.message)
        self.status = status
        self.code = code
        self.details = details
        self.error_type = error_type
        self.subcode = subcode

    def payload(self) -> JSON:
        """The JSON body the Graph API answers with."""
        error: JSON = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.status >= 500:
            error["is_transient"] = True
        error["fbtrace_id"] = _fbtrace_id()
        return {"error": error}


def _fbtrace_id() -> str:
    """A trace id shaped like the Graph API's."""
    return "A" + secrets.token_urlsafe(16)[:22]


def invalid(details: str) -> NoReturn:
    """Raise WhatsApp's 400 "Parameter value is not valid" (131009) with the reason."""
    raise GraphError(400, 131009, details)


def missing(details: str) -> NoReturn:
    """Raise WhatsApp's 400 "Required parameter is missing" (131008) with the reason."""
    raise GraphError(400, 131008, details)


def _string(parent: JSON, key: str, where: str, limit: int, *, required: bool = True) -> str:
    """parent[key] as a string of 1 to limit characters; a 400 answer otherwise."""
    value = parent.get(key)
    if value is None:
        if required:
            missing(f"{where} is required")
        return ""
    if not isinstance(value, str):
        invalid(f"{where} must be a string")
    if not value:
        invalid(f"{where} must not be empty")
    if len(value) > limit:
        invalid(f"{where} is too long: {len(value)} characters, at most {limit} allowed")
    return value


def _object(parent: JSON, key: str, where: str) -> JSON:
    """parent[key] as a JSON object; a 400 answer otherwise."""
    value = parent.get(key)
    if value is None:
        missing(f"{where} is required")
    if not isinstance(value, dict):
        invalid(f"{where} must be an object")
    return value


def _list(parent: JSON, key: str, where: str) -> list[Any]:
    """parent[key] as a JSON array; a 400 answer otherwise."""
    value = parent.get(key)
    if value is None:
        missing(f"{where} is required")
    if not isinstance(value, list):
        invalid(f"{where} must be an array")
    return value


def check_message(body: JSON) -> None:
    """Validate a message send the way the Cloud API does; raise GraphError if it would refuse."""
    if body.get("messaging_product") != "whatsapp":
        invalid("messaging_product must be 'whatsapp'")
    to, recipient = body.get("to"), body.get("recipient")
    if not (isinstance(to, str) and to) and not (isinstance(recipient, str) and recipient):
        missing("to (or recipient) is required")
    if body.get("recipient_type", "individual") not in ("individual", "group"):
        invalid("recipient_type must be 'individual' or 'group'")
    context = body.get("context")
    if context is not None:
        if not isinstance(context, dict):
            invalid("context must be an object")
        _string(context, "message_id", "context.message_id", 1000)
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        invalid(f"type {kind!r} is not a message type")
    content = _object(body, kind, kind)
    if kind == "text":
        _string(content, "body", "text.body", MAX_TEXT)
    elif kind == "interactive":
        check_interactive(content)
    elif kind in MEDIA_TYPES:
        if "id" not in content and "link" not in content:
            missing(f"{kind}.id or {kind}.link is required")
        if "caption" in content:
            _string(content, "caption", f"{kind}.caption", MAX_BODY)
    elif kind == "location":
        for key in ("latitude", "longitude"):
            value = content.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                invalid(f"location.{key} must be a number")
    elif kind == "reaction":
        _string(content, "message_id", "reaction.message_id", 1000)
    elif kind == "template":
        _string(content, "name", "template.name", 512)
        _string(_object(content, "language", "template.language"), "code", "language.code", 15)


def check_interactive(interactive: JSON) -> None:
    """Validate an interactive object: header, body, footer and the action of its type."""
    kind = interactive.get("type")
    if kind not in INTERACTIVE_TYPES:
        invalid(f"interactive.type {kind!r} is not supported")
    header = interactive.get("header")
    if header is not None:
        if not isinstance(header, dict):
            invalid("interactive.header must be an object")
        if header.get("type") == "text":
            _string(header, "text", "interactive.header.text", MAX_HEADER)
    body_required = kind in ("button", "list", "cta_url", "flow", "product_list")
    body = interactive.get("body")
    if body is not None or body_required:
        _string(_object(interactive, "body", "interactive.body"), "text", "body.text", MAX_BODY)
    footer = interactive.get("footer")
    if footer is not None:
        _string(
            _object(interactive, "footer", "interactive.footer"), "text", "footer.text", MAX_FOOTER
        )
    action = _object(interactive, "action", "interactive.action")
    if kind == "button":
        check_buttons(action)
    elif kind == "list":
        check_list(action)
    elif kind == "cta_url":
        parameters = _object(action, "parameters", "action.parameters")
        _string(parameters, "display_text", "parameters.display_text", MAX_BUTTON_TITLE)
        _string(parameters, "url", "parameters.url", 2000)


def check_buttons(action: JSON) -> None:
    """Reply buttons: 1 to 3, each with a unique id (≤ 256) and a unique title (≤ 20)."""
    buttons = _list(action, "buttons", "action.buttons")
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        invalid(f"action.buttons must have 1 to {MAX_BUTTONS} buttons, not {len(buttons)}")
    ids: set[str] = set()
    titles: set[str] = set()
    for button in buttons:
        if not isinstance(button, dict) or button.get("type") != "reply":
            invalid("each button must be an object of type 'reply'")
        reply = _object(button, "reply", "button.reply")
        button_id = _string(reply, "id", "button id", MAX_BUTTON_ID)
        title = _string(reply, "title", "button title", MAX_BUTTON_TITLE)
        if button_id in ids:
            invalid(f"duplicate button id {button_id!r}: button ids must be unique")
        if title in titles:
            invalid(f"duplicate button title {title!r}: button titles must be unique")
        ids.add(button_id)
        titles.add(title)


def check_list(action: JSON) -> None:
    """A list: a button (≤ 20), 1 to 10 sections, 1 to 10 rows in all, each row within limits."""
    _string(action, "button", "action.button", MAX_LIST_BUTTON)
    sections = _list(action, "sections", "action.sections")
    if not 1 <= len(sections) <= MAX_SECTIONS:
        invalid(f"action.sections must have 1 to {MAX_SECTIONS} sections, not {len(sections)}")
    ids: set[str] = set()
    total = 0
    for section in sections:
        if not isinstance(section, dict):
            invalid("each section must be an object")
        if len(sections) > 1 and section.get("title") is None:
            invalid("section title is required when a list has more than one section")
        _string(section, "title", "section title", MAX_SECTION_TITLE, required=False)
        rows = _list(section, "rows", "section.rows")
        if not rows:
            invalid("each section must have at least one row")
        total += len(rows)
        for row in rows:
            if not isinstance(row, dict):
                invalid("each row must be an object")
            row_id = _string(row, "id", "row id", MAX_ROW_ID)
            _string(row, "title", "row title", MAX_ROW_TITLE)
            _string(row, "description", "row description", MAX_ROW_DESCRIPTION, required=False)
            if row_id in ids:
                invalid(f"duplicate row id {row_id!r}: row ids must be unique")
            ids.add(row_id)
    if total > MAX_ROWS:
        invalid(f"Total row count exceed max allowed count: {MAX_ROWS} (got {total})")


def _digits(number: str) -> str:
    """A phone number as WhatsApp writes a wa_id: digits only."""
    return re.sub(r"\D", "", number)


def body_text(body: JSON) -> str:
    """The text a person reads in a sent message: text.body or interactive.body.text, or ""."""
    if body.get("type") == "text":
        return str(body.get("text", {}).get("body", ""))
    if body.get("type") == "interactive":
        return str(body.get("interactive", {}).get("body", {}).get("text", ""))
    return ""


def _new_wamid() -> str:
    """A fresh, unique WhatsApp message id shaped like Meta's ("wamid." and base64)."""
    raw = b"\x15\x02\x00\x11\x18\x12" + uuid.uuid4().hex.upper().encode()
    return "wamid." + base64.b64encode(raw).decode("ascii")


class FakeGraph(LocalServer):
    """A WhatsApp Cloud API server on 127.0.0.1 that records calls and can inject faults."""

    def __init__(self, token: str = "EAAtest", *, phone_id: str = PHONE_ID) -> None:
        """Set up an empty fake that accepts token for the business number phone_id."""
        super().__init__()
        self.token = token
        self.phone_id = phone_id
        self.delay = 0.0
        self.calls: list[Call] = []
        self.read: list[str] = []
        self.typing: list[str] = []
        self._faults: list[_Fault] = []
        self._stalls: list[tuple[Target, Stall]] = []

    # ----------------------------------------------------------------------------- lifecycle

    name = "fake Graph API server"

    # ------------------------------------------------------------------------ inspection

    def sent(self, to: str | None = None) -> list[JSON]:
        """Bodies of successful message sends (not read receipts), optionally to one wa_id."""
        return [
            call.body
            for call in self.calls
            if call.kind == "send" and call.status == 200 and (to is None or _is_to(call.body, to))
        ]

    def texts(self, to: str | None = None) -> list[str]:
        """The body text of each sent message (text.body or interactive.body.text)."""
        return [body_text(body) for body in self.sent(to)]

    def message_ids(self, to: str | None = None) -> list[str]:
        """The wamid the fake gave each successful send, in order."""
        return [
            str(call.response["messages"][0]["id"])
            for call in self.calls
            if call.kind == "send" and call.status == 200 and (to is None or _is_to(call.body, to))
        ]

    def summary(self, last: int = 40) -> str:
        """The last calls the fake answered, one a line, for failure messages."""
        lines = [f"{len(self.calls)} calls"]
        if len(self.calls) > last:
            lines.append(f"  ... {len(self.calls) - last} earlier calls")
        for call in self.calls[-last:]:
            shown = json.dumps(call.body, ensure_ascii=False)
            lines.append(f"  {call.status} {call.method} {call.path} {shown[:200]}")
            if call.status >= 400:
                details = call.response.get("error", {}).get("error_data", {}).get("details")
                lines.append(f"      -> {details or call.response.get('error', {})}")
        return "\n".join(lines)

    # ---------------------------------------------------------------------------- faults

    def fail(
        self, status: int, times: int = 1, code: int | None = None, *, target: Target = "send"
    ) -> None:
        """Make the next `times` send calls answer an error like Meta's with this HTTP status."""
        # code defaults by status: 429 -> 130429 (throughput; 131056 is the per-person pair
        # limit), 500 -> 131000, 503 (and other 5xx) -> 131016, 400 -> 131009, 401 -> 190.
        # target "read" fails read receipts instead of sends, "any" whichever comes first.
        if code is None:
            code = DEFAULT_CODES.get(status, 131016 if status >= 500 else 1)
        self._faults.extend([_Fault(status, code, target)] * times)

    def stall(
        self,
        times: int = 1,
        *,
        target: Target = "send",
        effect: bool = True,
        seconds: float = 30.0,
    ) -> None:
        """Hold the next `times` send calls (or `target`) unanswered until the client quits."""
        # effect=True: the call takes effect at once (the message is delivered) and only its
        # answer never arrives. effect=False: nothing happens unless the client is still waiting
        # after `seconds`. Either way a client still waiting then gets the answer, late.
        self._stalls.extend([(target, Stall(effect, seconds))] * times)

    def _take_stall(self, kind: str) -> Stall | None:
        """The next queued stall for this kind of call."""
        for index, (target, stall) in enumerate(self._stalls):
            if target in (kind, "any"):
                del self._stalls[index]
                return stall
        return None

    def _take_fault(self, kind: str) -> GraphError | None:
        """The next queued fault for this kind of call, as an error answer."""
        for index, fault in enumerate(self._faults):
            if fault.target in (kind, "any"):
                del self._faults[index]
                return GraphError(fault.status, fault.code, ERROR_DETAILS.get(fault.code))
        return None

    # ------------------------------------------------------------------------------ HTTP

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application: route POST /v{version}/{phone_id}/messages."""
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        status, payload = await self._answer(scope, body, receive)
        data = json.dumps(payload, separators=(",", ":")).encode()
        headers = [
            (b"content-type", b"application/json; charset=UTF-8"),
            (b"content-length", b"%d" % len(data)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        self._wake()

    async def _answer(self, scope: Scope, raw: bytes, receive: Receive) -> tuple[int, JSON]:
        """Record the call and compute its (status, JSON answer)."""
        method: str = scope["method"]
        path: str = scope["path"]
        body: JSON = {}
        bad_json = False
        if raw:
            try:
                decoded = json.loads(raw)
            except ValueError:
                bad_json = True
            else:
                if isinstance(decoded, dict):
                    body = decoded
                else:
                    bad_json = True
        call = Call(method, path, body)
        self.calls.append(call)
        stall: Stall | None = None
        try:
            self._check_token(scope)
            call.kind = self._route(method, path, body)
            if bad_json:
                raise GraphError(400, 100, "the request body must be a JSON object")
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            stall = self._take_stall(call.kind)
            if stall is not None and not stall.effect and await hold(receive, stall.seconds):
                return 0, {}  # the client gave up before the call took effect: it never does
            fault = self._take_fault(call.kind)
            if fault is not None:
                raise fault
            status, payload = 200, self._read(body) if call.kind == "read" else self._send(body)
        except GraphError as exc:
            status, payload = exc.status, exc.payload()
        except Exception as exc:  # a bug in the fake: make it loud, not a hang
            status, payload = 500, GraphError(500, 1, f"fake_whatsapp: {exc!r}").payload()
        call.status, call.response = status, payload
        if stall is not None and stall.effect:
            self._wake()  # the call took effect: let waiters see it while its answer is held
            await hold(receive, stall.seconds)
        return status, payload

    def _check_token(self, scope: Scope) -> None:
        """401 unless the request carries "Authorization: Bearer <token>"."""
        given = ""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                given = value.decode("latin-1")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            raise GraphError(401, 190)

    def _route(self, method: str, path: str, body: JSON) -> str:
        """The kind of call ("send" or "read"); 404 for any other path or verb."""
        match = re.fullmatch(r"/v\d+(?:\.\d+)?/([^/]+)/messages/?", path)
        if match is None:
            raise GraphError(404, 2500, message=f"Unknown path components: {path}")
        node = match.group(1)
        if node != self.phone_id or method != "POST":
            raise GraphError(
                404,
                100,
                message=(
                    f"Unsupported {method.lower()} request. Object with ID '{node}' does not "
                    "exist, cannot be loaded due to missing permissions, or does not support "
                    "this operation. Please read the Graph API documentation at "
                    "https://developers.facebook.com/docs/graph-api"
                ),
                error_type="GraphMethodException",
                subcode=33,
            )
        return "read" if "status" in body else "send"

    def _read(self, body: JSON) -> JSON:
        """A read receipt (and maybe a typing indicator): {"success": true}."""
        if body.get("messaging_product") != "whatsapp":
            invalid("messaging_product must be 'whatsapp'")
        if body.get("status") != "read":
            invalid("status must be 'read'")
        message_id = _string(body, "message_id", "message_id", 1000)
        if not message_id.startswith("wamid."):
            invalid(f"message_id {message_id!r} is not a WhatsApp message id")
        indicator = body.get("typing_indicator")
        if indicator is not None:
            if not isinstance(indicator, dict) or indicator.get("type") != "text":
                invalid("typing_indicator.type must be 'text'")
            self.typing.append(message_id)
        self.read.append(message_id)
        return {"success": True}

    def _send(self, body: JSON) -> JSON:
        """A message send: validated, then answered with a fresh wamid."""
        check_message(body)
        to, recipient = body.get("to"), body.get("recipient")
        if isinstance(to, str) and to:
            contact: JSON = {"input": to, "wa_id": _digits(to) or to}
        else:
            contact = {"input": recipient, "user_id": recipient}
        message: JSON = {"id": _new_wamid()}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}


def _is_to(body: JSON, wa_id: str) -> bool:
    """Whether a send body goes to wa_id, by phone number ("to") or by BSUID ("recipient")."""
    to, recipient = body.get("to"), body.get("recipient")
    if isinstance(to, str) and to:
        return to == wa_id or (_digits(to) != "" and _digits(to) == _digits(wa_id))
    return recipient in (wa_id, bsuid(wa_id))


# ------------------------------------------------------------------------ webhook payloads


def bsuid(wa_id: str) -> str:
    """The business-scoped user id Meta gives the person wa_id (stable, e.g. "GB.123…")."""
    try:
        number = phonenumbers.parse("+" + _digits(wa_id))
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    except phonenumbers.NumberParseException:
        region = None
    if not region or not re.fullmatch(r"[A-Z]{2}", region):
        region = "ZZ"
    digest = hashlib.sha256(f"{WABA_ID}:{wa_id}".encode()).digest()
    return f"{region}.{int.from_bytes(digest[:9], 'big') % 10**20:020d}"


def new_message_id() -> str:
    """A fresh, unique WhatsApp message id ("wamid.…")."""
    return _new_wamid()


_media_ids = itertools.count(1013859600285441)  # Meta's example media id, then upwards


def _timestamp(timestamp: float | None) -> str:
    """A Unix timestamp as Meta writes it in webhooks: a string of whole seconds."""
    return str(int(time.time() if timestamp is None else timestamp))


def _envelope(value: JSON) -> JSON:
    """The outer object of every WhatsApp Business Account webhook."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def _metadata() -> JSON:
    """Which business number the webhook is about."""
    return {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_ID}


def _incoming(
    wa_id: str,
    kind: str,
    content: JSON,
    *,
    message_id: str | None,
    name: str,
    timestamp: float | None,
    context_id: str | None = None,
) -> JSON:
    """A messages webhook carrying one message of this kind from wa_id."""
    message: JSON = {}
    if context_id is not None:
        message["context"] = {"from": DISPLAY_PHONE_NUMBER, "id": context_id}
    message.update(
        {
            "from": wa_id,
            "from_user_id": bsuid(wa_id),
            "id": message_id or new_message_id(),
            "timestamp": _timestamp(timestamp),
            "type": kind,
            kind: content,
        }
    )
    value: JSON = {
        "messaging_product": "whatsapp",
        "metadata": _metadata(),
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id, "user_id": bsuid(wa_id)}],
        "messages": [message],
    }
    return _envelope(value)


def _media(mime_type: str, extension: str) -> JSON:
    """The media object of an incoming image, sticker or audio message."""
    media_id = str(next(_media_ids))
    digest = hashlib.sha256(media_id.encode()).hexdigest()
    url = (
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
        f"?mid={media_id}&source=webhook&ext={extension}&hash={digest[:40]}"
    )
    return {"mime_type": mime_type, "sha256": digest, "id": media_id, "url": url}


def text_message(
    wa_id: str,
    body: str,
    message_id: str | None = None,
    *,
    name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for a text message from wa_id."""
    return _incoming(
        wa_id, "text", {"body": body}, message_id=message_id, name=name, timestamp=timestamp
    )


def button_reply(
    wa_id: str,
    button_id: str,
    title: str,
    context_id: str | None = None,
    *,
    message_id: str | None = None,
    name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for wa_id tapping a reply button (on message context_id, or a fresh id)."""
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return _incoming(
        wa_id,
        "interactive",
        content,
        message_id=message_id,
        name=name,
        timestamp=timestamp,
        context_id=context_id or new_message_id(),
    )


def list_reply(
    wa_id: str,
    row_id: str,
    title: str,
    description: str = "",
    *,
    context_id: str | None = None,
    message_id: str | None = None,
    name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for wa_id choosing a row of a list message."""
    row = {"id": row_id, "title": title}
    if description:
        row["description"] = description
    return _incoming(
        wa_id,
        "interactive",
        {"type": "list_reply", "list_reply": row},
        message_id=message_id,
        name=name,
        timestamp=timestamp,
        context_id=context_id or new_message_id(),
    )


def location_message(
    wa_id: str,
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    url: str | None = None,
    message_id: str | None = None,
    profile_name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for a location wa_id shares (a dropped pin unless a place name is given)."""
    location: JSON = {}
    if address is not None:
        location["address"] = address
    location.update({"latitude": latitude, "longitude": longitude})
    if name is not None:
        location["name"] = name
    if url is not None:
        location["url"] = url
    return _incoming(
        wa_id,
        "location",
        location,
        message_id=message_id,
        name=profile_name,
        timestamp=timestamp,
    )


def sticker_message(
    wa_id: str,
    *,
    animated: bool = False,
    message_id: str | None = None,
    name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for a sticker from wa_id."""
    sticker = {**_media("image/webp", "webp"), "animated": animated}
    return _incoming(
        wa_id, "sticker", sticker, message_id=message_id, name=name, timestamp=timestamp
    )


def image_message(
    wa_id: str,
    *,
    caption: str | None = None,
    message_id: str | None = None,
    name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for a photo from wa_id, with a caption if given."""
    image: JSON = {} if caption is None else {"caption": caption}
    image.update(_media("image/jpeg", "jpeg"))
    return _incoming(wa_id, "image", image, message_id=message_id, name=name, timestamp=timestamp)


def audio_message(
    wa_id: str,
    *,
    voice: bool = True,
    message_id: str | None = None,
    name: str = RESIDENT,
    timestamp: float | None = None,
) -> JSON:
    """The webhook for a voice note from wa_id (or an audio file, with voice=False)."""
    audio = {**_media("audio/ogg; codecs=opus", "ogg"), "voice": voice}
    return _incoming(wa_id, "audio", audio, message_id=message_id, name=name, timestamp=timestamp)


def status_update(
    message_id: str,
    recipient: str,
    status: str = "delivered",
    *,
    timestamp: float | None = None,
    error_code: int = 131026,
) -> JSON:
    """The statuses webhook: message_id, sent by the business to recipient, is now status."""
    # Pricing comes with sent and delivered (or read); conversation is gone since v24.0 outside
    # free entry points; a failed status has errors, and no contacts and recipient_user_id.
    if status not in STATUSES:
        raise ValueError(f"status must be one of {sorted(STATUSES)}, not {status!r}")
    entry: JSON = {
        "id": message_id,
        "status": status,
        "timestamp": _timestamp(timestamp),
        "recipient_id": recipient,
    }
    value: JSON = {"messaging_product": "whatsapp", "metadata": _metadata()}
    if status == "failed":
        entry["errors"] = [
            {
                "code": error_code,
                "title": ERROR_MESSAGES.get(error_code, "Error").split(") ", 1)[-1],
                "message": ERROR_MESSAGES.get(error_code, "Error").split(") ", 1)[-1],
                "error_data": {"details": ERROR_DETAILS.get(error_code, "")},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    else:
        entry["recipient_user_id"] = bsuid(recipient)
        value["contacts"] = [{"wa_id": recipient, "user_id": bsuid(recipient)}]
        if status in ("sent", "delivered"):
            entry["pricing"] = {
                "billable": False,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "service",
            }
    value["statuses"] = [entry]
    return _envelope(value)


def encode(payload: JSON) -> bytes:
    """The bytes Meta POSTs for a payload: compact JSON, non-ASCII and "/" escaped."""
    # Meta signs this escaped form ("\u00e9", "\/"), so an app must check the raw bytes.
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header Meta sends with body: "sha256=<hex hmac>"."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
