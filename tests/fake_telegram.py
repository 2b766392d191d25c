"""A fake Telegram Bot API server on 127.0.0.1, for tests and benchmarks that must not go online."""

# It speaks the wire format python-telegram-bot uses: POST {base_url}{token}/{method} with
# form-encoded parameters, where strings are sent as they are and every other value (ints, bools,
# lists, objects) is JSON-encoded; answers are {"ok": true, "result": ...} or
# {"ok": false, "error_code": ..., "description": ..., "parameters": {...}}.

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.message
import email.parser
import email.policy
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlsplit

from tests.fake_server import LocalServer, Stall, hold, read_body

JSON = dict[str, Any]
Scope = MutableMapping[str, Any]
AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]

BOT_ID = 1
BOT_USER: JSON = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Safer K&C",
    "username": "SaferKCBot",
}
ME: JSON = {
    **BOT_USER,
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
RESIDENT = "Resident"

# Parameters the Bot API takes as plain strings: PTB sends them unencoded, so they must never be
# JSON-decoded (a message whose text is "42" or "true" is still a string).
STRING_PARAMS = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "currency",
        "custom_title",
        "description",
        "document",
        "emoji",
        "explanation",
        "explanation_parse_mode",
        "first_name",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "payload",
        "phone_number",
        "photo",
        "provider_token",
        "question",
        "question_parse_mode",
        "secret_token",
        "short_description",
        "start_parameter",
        "sticker",
        "text",
        "thumbnail",
        "title",
        "url",
        "vcard",
        "video",
        "video_note",
        "voice",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
# MarkdownV2 characters that are never markup, so an unescaped one is always an error.
MDV2_NEVER_MARKUP = frozenset("#+-={}.!")
# Content keys a forwarded or copied message does not inherit from its source.
META_KEYS = frozenset(
    {
        "message_id",
        "from",
        "chat",
        "date",
        "edit_date",
        "reply_markup",
        "forward_origin",
        "reply_to_message",
        "sender_chat",
    }
)
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a content and reply markup of the current message"
)
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Call:
    """One request the fake received: the method, its decoded parameters, the HTTP status."""

    method: str
    params: dict[str, Any]
    # 0 until the answer is ready, and for good if stall() dropped the call unanswered
    status: int = field(default=0, compare=False)
    at: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True)
class _Fault:
    """An error answer queued by FakeTelegram.fail."""

    status: int
    retry_after: int | None
    description: str | None


class ApiError(Exception):
    """An error answer, raised inside a method handler."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        """Keep the HTTP status, the description and the optional response parameters."""
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> NoReturn:
    """Raise a 400 ``Bad Request: <detail>`` answer."""
    raise ApiError(400, f"Bad Request: {detail}")


def utf16_len(text: str) -> int:
    """The length of text in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def _reject_constant(name: str) -> Any:
    """Refuse NaN and Infinity so that such strings stay strings."""
    raise ValueError(name)


def decode_param(name: str, raw: str) -> Any:
    """Decode one form value the way the Bot API reads it: JSON unless it is a string parameter."""
    if name in STRING_PARAMS:
        return raw
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw


class _HtmlText(HTMLParser):
    """Checks Telegram's HTML subset and collects the plain text it renders to."""

    def __init__(self) -> None:
        """Start with no open tags and no text."""
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a supported tag, or note an unsupported one."""
        if self.error:
            return
        if tag not in HTML_TAGS or (tag == "span" and ("class", "tg-spoiler") not in attrs):
            self.error = f'Unsupported start tag "{tag}" at byte offset {self._offset()}'
            return
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Self-closing tags (like <br/>) are not part of Telegram's HTML."""
        if not self.error:
            self.error = f'Unsupported start tag "{tag}" at byte offset {self._offset()}'

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost tag, or note a mismatch."""
        if self.error:
            return
        if not self.stack or self.stack[-1] != tag:
            expected = f'"</{self.stack[-1]}>"' if self.stack else "no end tag"
            self.error = (
                f"Unmatched end tag at byte offset {self._offset()}, expected {expected}, "
                f'found "</{tag}>"'
            )
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        """Keep the visible text."""
        self.parts.append(data)

    def _offset(self) -> int:
        """An approximate offset of the current tag (column on its line)."""
        return self.getpos()[1]


def html_plain_text(text: str) -> str:
    """The plain text an HTML-formatted message renders to; 400 if Telegram would reject it."""
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error:
        bad_request(f"can't parse entities: {parser.error}")
    return "".join(parser.parts)


def check_markdown_v2(text: str) -> None:
    """400 if a MarkdownV2 text has an unescaped character that is never markup."""
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in MDV2_NEVER_MARKUP:
            bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be escaped with "
                f"the preceding '\\' (at offset {index})"
            )


def render(text: str, parse_mode: Any, limit: int, empty: str) -> str:
    """Validate a text or caption with its parse_mode; return the plain text Telegram shows."""
    mode = parse_mode.lower() if isinstance(parse_mode, str) else ""
    if mode not in ("", "html", "markdown", "markdownv2"):
        bad_request("unsupported parse_mode")
    if mode == "html":
        plain = html_plain_text(text)
    else:
        if mode == "markdownv2":
            check_markdown_v2(text)
        plain = text
    if not plain.strip():
        bad_request(empty)
    if utf16_len(plain) > limit:
        bad_request("message is too long" if limit > 1024 else "message caption is too long")
    return plain


def check_markup(markup: Any) -> JSON | None:
    """Validate a reply_markup; return it if it is an inline keyboard (the one kind echoed)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        bad_request('can\'t parse inline keyboard button: Field "inline_keyboard" must be Array')
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
        if not BUTTON_ACTIONS.intersection(button):
            bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
        data = button.get("callback_data")
        if data is not None and not (
            isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64
        ):
            bad_request("BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None and (
            not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https", "tg")
        ):
            bad_request(f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol")
    return markup


def callback_data_of(message: JSON) -> list[str]:
    """Every callback_data on a message's inline keyboard."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["callback_data"] for b in itertools.chain.from_iterable(rows) if "callback_data" in b]


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode a multipart/form-data body: fields as form values, files as small dicts."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    files: dict[str, JSON] = {}
    payloads = message.get_payload()
    for part in payloads if isinstance(payloads, list) else []:
        if not isinstance(part, email.message.Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            content = b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = decode_param(name, content.decode("utf-8"))
        else:
            files[name] = {"filename": filename, "size": len(content), "content": content}
    for name, value in list(fields.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            fields[name] = files.pop(value.removeprefix("attach://"), value)
    return {**files, **fields}


class FakeTelegram(LocalServer):
    """A Bot API server on 127.0.0.1 that records every call and can inject faults."""

    def __init__(self, token: str = "123:TEST") -> None:
        """Prepare an empty fake; call start() to serve it."""
        super().__init__()
        self.token = token
        self.base_url = ""
        self.delay = 0.0
        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, JSON]] = {}
        self.commands: dict[str | None, list[JSON]] = {}
        self.scoped_commands: dict[tuple[str, str | None], list[JSON]] = {}
        self.webhook: JSON = {}
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.chats: dict[int, JSON] = {}
        self._sources: dict[tuple[int, int], tuple[str, str]] = {}
        self._pending: deque[JSON] = deque()
        self._faults: dict[str, deque[_Fault]] = {}
        self._stalls: dict[str, deque[Stall]] = {}
        self._next_update_id = 1
        self._next_message_id: dict[int, int] = {}
        self._ids = itertools.count(1)
        self._poll_generation = 0
        self._closing = False
        self._methods: dict[str, tuple[str, Callable[[JSON], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in (
                ("getMe", self._get_me),
                ("logOut", self._true),
                ("close", self._true),
                ("sendMessage", self._send_message),
                ("sendPhoto", self._send_photo),
                ("sendDocument", self._send_document),
                ("sendLocation", self._send_location),
                ("sendVenue", self._send_venue),
                ("sendContact", self._send_contact),
                ("forwardMessage", self._forward_message),
                ("copyMessage", self._copy_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("answerCallbackQuery", self._answer_callback_query),
                ("deleteMessage", self._delete_message),
                ("deleteMessages", self._delete_messages),
                ("sendChatAction", self._send_chat_action),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("setWebhook", self._set_webhook),
                ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", self._get_webhook_info),
            )
        }

    # ----------------------------------------------------------------------------- lifecycle

    name = "fake Telegram server"

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1 and return once the server accepts connections."""
        self._closing = False
        await super().start()
        self.base_url = f"{self.url}/bot"

    async def stop(self) -> None:
        """Answer pending long polls with no updates, then shut the server down."""
        if self._task is not None:
            self._closing = True
            self._wake()
        await super().stop()

    # ------------------------------------------------------------------------ inspection

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        """Parameters of every successful sendMessage call, optionally only those to one chat."""
        return [
            call.params
            for call in self.calls
            if call.method == "sendMessage"
            and call.status == 200
            and (chat_id is None or call.params.get("chat_id") == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """The text of every successful sendMessage call, optionally only those to one chat."""
        return [str(params.get("text", "")) for params in self.sent(chat_id)]

    def calls_to(self, method: str) -> list[JSON]:
        """Parameters of every call of one method, in order, whatever it answered."""
        return [call.params for call in self.calls if call.method == method]

    def summary(self, last: int = 40) -> str:
        """The last calls the fake answered, one a line, for failure messages."""
        lines = [f"{len(self.calls)} calls, {len(self._pending)} updates pending"]
        if len(self.calls) > last:
            lines.append(f"  ... {len(self.calls) - last} earlier calls")
        for call in self.calls[-last:]:
            params = {k: v for k, v in call.params.items() if k != "reply_markup"}
            if "reply_markup" in call.params:
                params["reply_markup"] = "..."
            shown = repr(params)
            lines.append(f"  {call.status} {call.method} {shown[:200]}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------ fake users

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = "en",
        date: int | None = None,
        chat_type: str = "private",
        enqueue: bool = True,
    ) -> JSON:
        """A person in chat_id sends text: record the message, queue the update, return it."""
        chat = self._set_chat(chat_id, chat_type)
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": self._user(chat_id, language_code),
            "chat": dict(chat),
            "date": int(time.time()) if date is None else date,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        self._remember(chat_id, message)
        update = {"update_id": self._new_update_id(), "message": message}
        if enqueue:
            self._enqueue(update)
        return update

    def user_press(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        language_code: str | None = "en",
        enqueue: bool = True,
    ) -> JSON:
        """A person presses the button with data on a bot message; queue and return the update."""
        # The message is message_id, or else the last bot message in the chat with an inline
        # keyboard; ValueError if there is none, or if it has no button with that data.
        chat_messages = self.messages.get(chat_id, {})
        if message_id is not None:
            message = chat_messages.get(message_id)
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
        else:
            message = next(
                (
                    m
                    for m in reversed(chat_messages.values())
                    if m["from"]["id"] == BOT_ID and "reply_markup" in m
                ),
                None,
            )
            if message is None:
                raise ValueError(f"no bot message with an inline keyboard in chat {chat_id}")
        buttons = callback_data_of(message)
        if data not in buttons:
            raise ValueError(
                f"message {message['message_id']} in chat {chat_id} has no button {data!r}; "
                f"it has {buttons}"
            )
        update = {
            "update_id": self._new_update_id(),
            "callback_query": {
                "id": str(next(self._ids)),
                "from": self._user(chat_id, language_code),
                "chat_instance": str(chat_id),
                "data": data,
                "message": copy.deepcopy(message),
            },
        }
        if enqueue:
            self._enqueue(update)
        return update

    def user_update(self, update: JSON) -> JSON:
        """Queue any raw update (photo, sticker, location, edited_message...); return it."""
        # update_id is assigned if missing; a message without message_id or date gets them, and
        # is recorded in messages (an edited_message replaces the recorded one).
        update = self._ingest(update)
        self._enqueue(update)
        return update

    def make_update(self, **fields: Any) -> JSON:
        """Build an update with a fresh update_id, without queueing it (for webhook tests)."""
        return self._ingest(dict(fields))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._pending)

    # ---------------------------------------------------------------------------- faults

    def fail(
        self,
        method: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        *,
        description: str | None = None,
    ) -> None:
        """Make the next `times` calls of method ("*" for any) answer with an error."""
        # A 429 always carries parameters.retry_after (1 unless given), as the real API does.
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = _Fault(status, retry_after, description)
        self._faults.setdefault(method.lower(), deque()).extend([fault] * times)

    def stall(
        self, method: str, times: int = 1, *, effect: bool = True, seconds: float = 30.0
    ) -> None:
        """Hold the next `times` calls of method ("*" for any) unanswered until the client quits."""
        # effect=True: the call takes effect at once (the message is in the chat) and only its
        # answer never arrives. effect=False: nothing happens unless the client is still waiting
        # after `seconds`. Either way a client still waiting then gets the answer, late.
        stall = Stall(effect, seconds)
        self._stalls.setdefault(method.lower(), deque()).extend([stall] * times)

    # ------------------------------------------------------------------------------ HTTP

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application: route /bot<token>/<method> to its handler."""
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        status, payload = await self._answer(scope, body, receive)
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        self._wake()

    async def _answer(self, scope: Scope, body: bytes, receive: Receive) -> tuple[int, JSON]:
        """Record the call and compute its (status, JSON answer)."""
        path: str = scope["path"]
        token, _, name = path.removeprefix("/bot").partition("/")
        method_key = name.lower()
        known = self._methods.get(method_key)
        method = known[0] if known else ("getUpdates" if method_key == "getupdates" else name)
        error: ApiError | None = None
        try:
            params = self._params(scope, body)
        except ApiError as exc:
            params, error = {}, exc
        call = Call(method, params)
        self.calls.append(call)
        if error is None:
            if not path.startswith("/bot") or not name or "/" in name:
                error = ApiError(404, "Not Found")
            elif token != self.token:
                error = ApiError(401, "Unauthorized")
        if error is None and self.delay > 0:
            await asyncio.sleep(self.delay)
        stall = self._take_stall(method_key) if error is None else None
        if stall is not None and not stall.effect and await hold(receive, stall.seconds):
            return 0, {}  # the client gave up before the call took effect: it never does
        if error is None:
            error = self._take_fault(method_key)
        status, payload = 200, {}
        if error is None:
            try:
                if method_key == "getupdates":
                    result = await self._get_updates(params)
                elif known is not None:
                    result = known[1](params)
                else:
                    raise ApiError(404, "Not Found")
                payload = {"ok": True, "result": result}
            except ApiError as exc:
                error = exc
            except Exception as exc:  # a bug in the fake: make it loud, not a hang
                error = ApiError(500, f"Internal Server Error: fake_telegram: {exc!r}")
        if error is not None:
            status = error.status
            payload = {"ok": False, "error_code": error.status, "description": error.description}
            if error.parameters:
                payload["parameters"] = error.parameters
        call.status = status
        if stall is not None and stall.effect:
            self._wake()  # the call took effect: let waiters see it while its answer is held
            await hold(receive, stall.seconds)
        return status, payload

    @staticmethod
    def _params(scope: Scope, body: bytes) -> JSON:
        """Decode query string and body (form, multipart or JSON) into parameters."""
        params: JSON = {
            key: decode_param(key, value)
            for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        }
        content_type = ""
        for key, value in scope.get("headers", []):
            if key == b"content-type":
                content_type = value.decode("latin-1")
        kind = content_type.split(";", 1)[0].strip().lower()
        if not body:
            return params
        try:
            if kind == "application/json":
                data = json.loads(body)
                if not isinstance(data, dict):
                    bad_request("JSON object expected")
                for key, value in data.items():
                    params[key] = decode_param(key, value) if isinstance(value, str) else value
            elif kind == "multipart/form-data":
                params.update(parse_multipart(content_type, body))
            else:
                for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                    params[key] = decode_param(key, value)
        except (ValueError, UnicodeDecodeError) as exc:
            bad_request(f"can't parse request: {exc}")
        return params

    def _take_stall(self, method_key: str) -> Stall | None:
        """The next queued stall for this method (or for any method)."""
        for key in (method_key, "*"):
            queue = self._stalls.get(key)
            if queue:
                return queue.popleft()
        return None

    def _take_fault(self, method_key: str) -> ApiError | None:
        """The next queued fault for this method (or for any method), as an error answer."""
        for key in (method_key, "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue.popleft()
                break
        else:
            return None
        if fault.status == 429:
            description = f"Too Many Requests: retry after {fault.retry_after}"
        else:
            description = DEFAULT_DESCRIPTIONS.get(fault.status, "")
            if not description:
                try:
                    description = HTTPStatus(fault.status).phrase
                except ValueError:
                    description = f"Error {fault.status}"
        if fault.description is not None:
            description = fault.description
        parameters = None if fault.retry_after is None else {"retry_after": fault.retry_after}
        return ApiError(fault.status, description, parameters)

    # ------------------------------------------------------------------------ state helpers

    def _enqueue(self, update: JSON) -> None:
        """Queue an update for getUpdates."""
        self._pending.append(update)
        self._wake()

    def _new_update_id(self) -> int:
        """A fresh update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        return update_id

    def _new_message_id(self, chat_id: int) -> int:
        """The next message_id in a chat (bot and user messages share the sequence)."""
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _remember(self, chat_id: int, message: JSON) -> None:
        """Record a message as present in its chat."""
        message_id = message["message_id"]
        self.messages.setdefault(chat_id, {})[message_id] = message
        if message_id >= self._next_message_id.get(chat_id, 1):
            self._next_message_id[chat_id] = message_id + 1

    def _ingest(self, update: JSON) -> JSON:
        """Give an update its update_id and record the messages it carries."""
        if "update_id" in update:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        else:
            update = {"update_id": self._new_update_id(), **update}
        for key in ("message", "channel_post", "business_message"):
            message = update.get(key)
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                chat_id = int(message["chat"]["id"])
                self.chats.setdefault(chat_id, dict(message["chat"]))
                message.setdefault("message_id", self._new_message_id(chat_id))
                message.setdefault("date", int(time.time()))
                self._remember(chat_id, message)
        for key in ("edited_message", "edited_channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                chat_id = int(message["chat"]["id"])
                if message.get("message_id") in self.messages.get(chat_id, {}):
                    self._remember(chat_id, message)
        return update

    def _set_chat(self, chat_id: int, chat_type: str) -> JSON:
        """Record (and return) the chat object of a chat a fake user writes in."""
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = RESIDENT
        else:
            chat["title"] = "Test chat"
        self.chats[chat_id] = chat
        return chat

    def _chat(self, chat_id: int) -> JSON:
        """The chat object for a chat the bot writes to."""
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": RESIDENT}
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": "Test chat"}
            self.chats[chat_id] = chat
        return dict(chat)

    @staticmethod
    def _user(user_id: int, language_code: str | None) -> JSON:
        """The fake resident as a User object."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": RESIDENT}
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _bot_message(self, chat_id: int, content: JSON, markup: JSON | None = None) -> JSON:
        """Record and return a new message from the bot."""
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": dict(BOT_USER),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        if markup is not None:
            message["reply_markup"] = markup
        self._remember(chat_id, message)
        return message

    def _existing(self, params: JSON, missing: str) -> tuple[int, int, JSON]:
        """(chat_id, message_id, message) for the message params point at; 400 if absent."""
        chat_id = _chat_id(params)
        message_id = _int(params, "message_id")
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            bad_request(missing)
        return chat_id, message_id, message

    # --------------------------------------------------------------------------- methods

    @staticmethod
    def _true(params: JSON) -> bool:
        """Methods that just succeed."""
        return True

    @staticmethod
    def _get_me(params: JSON) -> JSON:
        """getMe: the bot."""
        return dict(ME)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        """getUpdates: confirm by offset, then long-poll up to timeout for at most limit updates."""
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = params.get("timeout", 0)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool):
            bad_request("invalid timeout specified")
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        elif offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        # A new getUpdates ends any other one still waiting, as on the real server.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(timeout), 0.0)
        while True:
            if self._pending:
                return list(itertools.islice(self._pending, limit))
            if self._closing:
                return []
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await tick.wait()
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )

    def _send_message(self, params: JSON) -> JSON:
        """sendMessage: a new bot message in the chat."""
        chat_id = _chat_id(params)
        text = params.get("text")
        if not isinstance(text, str):
            bad_request("message text is empty")
        plain = render(text, params.get("parse_mode"), 4096, "message text is empty")
        markup = check_markup(params.get("reply_markup"))
        message = self._bot_message(chat_id, {"text": plain}, markup)
        self._sources[chat_id, message["message_id"]] = (text, str(params.get("parse_mode", "")))
        return message

    def _caption(self, params: JSON) -> JSON:
        """The caption part of a media message, validated."""
        caption = params.get("caption")
        if not isinstance(caption, str) or not caption:
            return {}
        plain = render(caption, params.get("parse_mode"), 1024, "message caption is empty")
        return {"caption": plain}

    def _send_photo(self, params: JSON) -> JSON:
        """sendPhoto: a bot message with one PhotoSize."""
        chat_id = _chat_id(params)
        photo = _file_param(params, "photo")
        number = next(self._ids)
        size = {"file_id": photo, "file_unique_id": f"u{number}", "width": 1, "height": 1}
        content = {"photo": [size], **self._caption(params)}
        return self._bot_message(chat_id, content, check_markup(params.get("reply_markup")))

    def _send_document(self, params: JSON) -> JSON:
        """sendDocument: a bot message with a Document."""
        chat_id = _chat_id(params)
        document = _file_param(params, "document")
        number = next(self._ids)
        doc: JSON = {"file_id": document, "file_unique_id": f"u{number}"}
        raw = params.get("document")
        if isinstance(raw, dict):
            doc["file_name"] = raw["filename"]
        content = {"document": doc, **self._caption(params)}
        return self._bot_message(chat_id, content, check_markup(params.get("reply_markup")))

    def _send_location(self, params: JSON) -> JSON:
        """sendLocation: a bot message with a Location."""
        chat_id = _chat_id(params)
        location = _location(params)
        markup = check_markup(params.get("reply_markup"))
        return self._bot_message(chat_id, {"location": location}, markup)

    def _send_venue(self, params: JSON) -> JSON:
        """sendVenue: a bot message with a Venue (and its Location)."""
        chat_id = _chat_id(params)
        location = _location(params)
        title, address = params.get("title"), params.get("address")
        if not isinstance(title, str) or not title:
            bad_request("title is empty")
        if not isinstance(address, str) or not address:
            bad_request("address is empty")
        venue = {"location": location, "title": title, "address": address}
        markup = check_markup(params.get("reply_markup"))
        return self._bot_message(chat_id, {"venue": venue, "location": location}, markup)

    def _send_contact(self, params: JSON) -> JSON:
        """sendContact: a bot message with a Contact."""
        chat_id = _chat_id(params)
        phone, first_name = params.get("phone_number"), params.get("first_name")
        if not isinstance(phone, str) or not phone:
            bad_request("phone_number is empty")
        if not isinstance(first_name, str) or not first_name:
            bad_request("first_name is empty")
        contact = {"phone_number": phone, "first_name": first_name}
        for key in ("last_name", "vcard"):
            if isinstance(params.get(key), str):
                contact[key] = params[key]
        markup = check_markup(params.get("reply_markup"))
        return self._bot_message(chat_id, {"contact": contact}, markup)

    def _forward_message(self, params: JSON) -> JSON:
        """forwardMessage: a copy of a present message, with its forward_origin."""
        chat_id = _chat_id(params)
        source = self._source_message(params, "message to forward not found")
        content = {k: copy.deepcopy(v) for k, v in source.items() if k not in META_KEYS}
        sender = source.get("from")
        if isinstance(sender, dict):
            origin: JSON = {"type": "user", "date": source["date"], "sender_user": sender}
        else:
            origin = {"type": "hidden_user", "date": source["date"], "sender_user_name": RESIDENT}
        content["forward_origin"] = origin
        return self._bot_message(chat_id, content)

    def _copy_message(self, params: JSON) -> JSON:
        """copyMessage: a bot message with the content of a present message; its MessageId."""
        chat_id = _chat_id(params)
        source = self._source_message(params, "message to copy not found")
        content = {k: copy.deepcopy(v) for k, v in source.items() if k not in META_KEYS}
        if "caption" in params:
            content.pop("caption", None)
            content.update(self._caption(params))
        markup = check_markup(params.get("reply_markup"))
        return {"message_id": self._bot_message(chat_id, content, markup)["message_id"]}

    def _source_message(self, params: JSON, missing: str) -> JSON:
        """The message from_chat_id/message_id point at; 400 if absent."""
        from_chat_id = _int(params, "from_chat_id")
        message = self.messages.get(from_chat_id, {}).get(_int(params, "message_id"))
        if message is None:
            bad_request(missing)
        return message

    def _editable(self, params: JSON) -> tuple[int, int, JSON]:
        """The bot message an edit points at; 400 if absent or not the bot's."""
        chat_id, message_id, message = self._existing(params, "message to edit not found")
        if message["from"]["id"] != BOT_ID:
            bad_request("message can't be edited")
        return chat_id, message_id, message

    def _edit_message_text(self, params: JSON) -> JSON | bool:
        """editMessageText: new text (and keyboard) for a bot message; the edited message."""
        text = params.get("text")
        if not isinstance(text, str):
            bad_request("message text is empty")
        plain = render(text, params.get("parse_mode"), 4096, "message text is empty")
        markup = check_markup(params.get("reply_markup"))
        if "inline_message_id" in params:
            return True
        chat_id, message_id, message = self._editable(params)
        source = (text, str(params.get("parse_mode", "")))
        if (
            self._sources.get((chat_id, message_id)) == source
            and message.get("reply_markup") == markup
        ):
            bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._sources[chat_id, message_id] = source
        message["text"] = plain
        message.pop("caption", None)
        self._set_markup(message, markup)
        return message

    def _edit_message_reply_markup(self, params: JSON) -> JSON | bool:
        """editMessageReplyMarkup: replace or remove a bot message's inline keyboard."""
        markup = check_markup(params.get("reply_markup"))
        if "inline_message_id" in params:
            return True
        _, _, message = self._editable(params)
        if message.get("reply_markup") == markup:
            bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._set_markup(message, markup)
        return message

    @staticmethod
    def _set_markup(message: JSON, markup: JSON | None) -> None:
        """Set or drop a message's inline keyboard and stamp edit_date."""
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())

    @staticmethod
    def _answer_callback_query(params: JSON) -> bool:
        """answerCallbackQuery: true."""
        if not params.get("callback_query_id"):
            bad_request("query is too old and response timeout expired or query ID is invalid")
        return True

    def _delete_message(self, params: JSON) -> bool:
        """deleteMessage: remove a present message; 400 if it is not there."""
        chat_id, message_id, _ = self._existing(params, "message to delete not found")
        del self.messages[chat_id][message_id]
        return True

    def _delete_messages(self, params: JSON) -> bool:
        """deleteMessages: remove those of 1 to 100 messages that are present."""
        chat_id = _chat_id(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            bad_request("message_ids must be a JSON array of integers")
        if not ids:
            bad_request("message identifiers are not specified")
        if len(ids) > 100:
            bad_request("too many message identifiers specified")
        chat = self.messages.get(chat_id, {})
        for message_id in ids:
            chat.pop(message_id, None)
        return True

    @staticmethod
    def _send_chat_action(params: JSON) -> bool:
        """sendChatAction: true for a known action."""
        _chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            bad_request("wrong parameter action in request")
        return True

    def _commands_key(self, params: JSON) -> tuple[str | None, str | None]:
        """(scope key or None for the default scope, language_code) of a commands call."""
        scope = params.get("scope")
        language = params.get("language_code") or None
        if scope is None or (isinstance(scope, dict) and scope.get("type") == "default"):
            return None, language
        return json.dumps(scope, sort_keys=True), language

    def _set_my_commands(self, params: JSON) -> bool:
        """setMyCommands: keep the list per scope and language_code."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            bad_request("commands must be a JSON array")
        if len(commands) > 100:
            bad_request("too many commands specified")
        for command in commands:
            if not isinstance(command, dict) or not isinstance(command.get("command"), str):
                bad_request('can\'t parse BotCommand: Field "command" must be of type String')
            if not COMMAND_RE.fullmatch(command["command"]):
                bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not description.strip():
                bad_request("command description must be non-empty")
            if len(description) > 256:
                bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope, language = self._commands_key(params)
        if scope is None:
            self.commands[language] = commands
        else:
            self.scoped_commands[scope, language] = commands
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        """getMyCommands: the list for that scope and language_code, or []."""
        scope, language = self._commands_key(params)
        if scope is None:
            return self.commands.get(language, [])
        return self.scoped_commands.get((scope, language), [])

    def _delete_my_commands(self, params: JSON) -> bool:
        """deleteMyCommands: forget the list for that scope and language_code."""
        scope, language = self._commands_key(params)
        if scope is None:
            self.commands.pop(language, None)
        else:
            self.scoped_commands.pop((scope, language), None)
        return True

    def _set_webhook(self, params: JSON) -> bool:
        """setWebhook: record url and secret_token (an empty url removes the webhook)."""
        url = params.get("url")
        if not isinstance(url, str):
            bad_request("url is empty")
        secret = params.get("secret_token")
        if secret is not None and not (
            isinstance(secret, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
        ):
            bad_request("secret token contains unallowed characters")
        connections = _int(params, "max_connections", 40)
        if not 1 <= connections <= 100:
            bad_request("bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if not url:
            return self._delete_webhook({})
        self.webhook = dict(params)
        self.webhook_url = url
        self.webhook_secret = secret
        return True

    def _delete_webhook(self, params: JSON) -> bool:
        """deleteWebhook: forget the webhook; drop queued updates if asked."""
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {}
        self.webhook_url = ""
        self.webhook_secret = None
        return True

    def _get_webhook_info(self, params: JSON) -> JSON:
        """getWebhookInfo: the recorded webhook."""
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if "allowed_updates" in self.webhook:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info


def _int(params: JSON, name: str, default: int | None = None) -> int:
    """An integer parameter; 400 if missing (without default) or not an integer."""
    value = params.get(name)
    if value is None:
        if default is None:
            bad_request(f"{name} is empty")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        bad_request(f"invalid {name} specified")
    return value


def _chat_id(params: JSON) -> int:
    """The chat_id parameter as an int; 400 "chat not found" for @usernames and the like."""
    value = params.get("chat_id")
    if value is None or value == "":
        bad_request("chat_id is empty")
    if isinstance(value, bool) or not isinstance(value, int):
        bad_request("chat not found")
    return value


def _location(params: JSON) -> JSON:
    """latitude/longitude parameters as a Location object."""
    location: JSON = {}
    for name in ("latitude", "longitude"):
        value = params.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            bad_request("wrong latitude or longitude")
        location[name] = float(value)
    return location


def _file_param(params: JSON, name: str) -> str:
    """The file_id a sent file gets: the file_id/URL given, or a fresh id for an upload."""
    value = params.get(name)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        return f"{name}-{value['filename']}-{value['size']}"
    bad_request(f"there is no {name} in the request")
