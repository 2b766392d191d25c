"""Both webhooks under load: many people on Telegram and WhatsApp at once, one `bot run`.

Run: .venv/bin/python bench/web_bench.py [--people 100] [--messages 10] [--quick]
No target: the figures describe this machine, for the README.

`bot run` runs as a subprocess in webhook mode for both channels (launched, stopped and measured
as bench/telegram_bench.py does): it registers its Telegram webhook with a fake Bot API server
(tests/fake_telegram.py) and sends its WhatsApp messages to a fake Graph API
(tests/fake_whatsapp.py), both on 127.0.0.1 in this process; nothing goes online. Each simulated
person, N on each channel, POSTs their messages to the bot's web server through one
`httpx.AsyncClient` whose pool has a connection for everyone: Telegram updates to
/webhooks/telegram with the secret token header, WhatsApp updates signed with the app secret to
/webhooks/whatsapp. The load is a closed loop: a person sends the next message only once the POST
has been answered and every reply to the previous message has reached the fake. Telegram people
send /start (with a language_code), then telegram_bench's questions typed in seven languages,
with a command every third turn; WhatsApp people greet, pick their language from the list, then
go on the same way. A calibration pass (one person per script and channel, pausing until the bot
is quiet after each message; uncounted, and also the warm-up) learns how many replies each
message gets (a danger message gets two), so each reply is matched to the right message.

Reported: updates a second, overall and per channel (updates answered over the time from the
first POST to the last reply); p50/p99 latency from a POST going out (once this process, busy
with the fakes and every person, gets round to sending it) to the bot's first reply reaching the
fake; p50/p99 time from a POST going out to its answer; peak RSS (VmHWM) of `bot run` and of its
engine child process; CPU milliseconds per update of each, and of this process; answers other
than 2xx, lost replies and refused sends, which must all be none. With no pause between messages
the loop keeps the machine busy, so latency is mostly time spent queueing behind other people.
The default load (100 + 100 people x 10 messages) takes under a minute on a 2-core machine;
--quick (10 + 10 people x 5 messages) is a smoke run of a few seconds once the bot has started.
Exit status: 0 when it ran cleanly, 2 on any error or lost reply, or when the bot could not be
measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# The repository root (tests.*, bot.*) and this folder (telegram_bench, when run from elsewhere).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import telegram_bench as tg

from bot.channels.web import TELEGRAM_SECRET_HEADER, WHATSAPP_SIGNATURE_HEADER
from bot.content.i18n import NATIVE_NAMES
from tests.fake_telegram import FakeTelegram
from tests.fake_whatsapp import PHONE_ID, FakeGraph, encode, list_reply, sign, text_message

WEBHOOK_URL = "https://example.org/webhooks/telegram"  # only ever given to the fake
WEBHOOK_SECRET = "bench-webhook-secret"
WHATSAPP_TOKEN = "EAAbench"
APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
WHATSAPP_PEOPLE = 447700900000  # measured numbers start here (the UK's range kept for drama)
WHATSAPP_CALIBRATION = 447700000000  # calibration numbers, never measured
# Below the bot's web server's keep-alive, as a well-behaved caller keeps it: a connection reused
# just as the server closes it would fail with a ReadError that says nothing about the bot's speed.
KEEPALIVE = 3.0
PRESS = "press:"  # a WhatsApp step that picks a list row instead of typing
# How each person opens a WhatsApp chat: none of these says the language, so the list is offered.
GREETINGS = {
    "en": "hello",
    "fr": "bonjour",
    "ar": "مرحبا",
    "es": "hola",
    "pt": "olá",
    "so": "salaan",
    "fa": "سلام",
}


def whatsapp_scripts(messages: int) -> list[tg.Script]:
    """Per language: a greeting, the language picked from the list, then telegram_bench's turns."""
    found = []
    for script in tg.scripts(messages):
        turns = (GREETINGS[script.lang], f"{PRESS}lang:{script.lang}", *script.texts[1:])
        found.append(tg.Script(script.lang, turns[:messages]))
    return found


class GraphReplies(tg.Replies):
    """The arrival time of every message sent to each WhatsApp number, from the fake's call log."""

    def __init__(self, graph: FakeGraph) -> None:
        """Follow `graph.calls` from the start."""
        # follow() only uses the fake's `calls` and `wait_for`, which FakeGraph has too.
        super().__init__(graph)  # type: ignore[arg-type]
        self.graph = graph

    def _scan(self) -> None:
        """Note the new message sends (not read receipts) and wake whoever waits for them."""
        calls = self.graph.calls
        while self._seen < len(calls):
            call = calls[self._seen]
            if call.status == 0:
                return  # still being answered: look again later
            to = call.body.get("to")
            if call.kind == "send" and isinstance(to, str) and to.isdigit():
                if call.status == 200:
                    self._arrived(int(to), call.at)
                else:
                    self.failed[int(to)] += 1
            self._seen += 1


@dataclass
class Figures:
    """One channel's figures under load."""

    result: tg.Result  # answered, seconds, latencies, replies, mismatched chats, refused sends
    people: int
    start: float = 0.0  # the first POST
    end: float = 0.0  # the last reply
    posts: tg.Result = field(default_factory=lambda: tg.Result("POST", 0))  # time to answer
    errors: Counter[str] = field(default_factory=Counter)  # non-2xx statuses, transport errors
    lost: int = 0  # replies that never came


class Side:
    """One channel as its people see it: the webhook they POST to, the fake its replies reach."""

    name = ""
    path = ""

    def __init__(self, replies: tg.Replies, kinds: list[tg.Script], first: int, calib: int) -> None:
        """The replies to follow, the scripts, and the first person id of each pass."""
        self.replies = replies
        self.kinds = kinds
        self.first = first
        self.calibration = calib

    def request(self, person: int, script: tg.Script, step: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one update from a person."""
        raise NotImplementedError


class TelegramSide(Side):
    """Telegram: updates as the Bot API would POST them, with the secret token header."""

    name = "telegram"
    path = "/webhooks/telegram"

    def __init__(self, fake: FakeTelegram, messages: int) -> None:
        """People chat with the bot through `fake`."""
        super().__init__(
            tg.Replies(fake), tg.scripts(messages), tg.USER_CHATS, tg.CALIBRATION_CHATS
        )
        self.fake = fake

    def request(self, person: int, script: tg.Script, step: str) -> tuple[bytes, dict[str, str]]:
        """A message update; the fake records it, so the bot's answers find their chat."""
        update = self.fake.user_message(person, step, language_code=script.lang, enqueue=False)
        headers = {TELEGRAM_SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}
        return json.dumps(update, ensure_ascii=False).encode(), headers


class WhatsAppSide(Side):
    """WhatsApp: updates as Meta would POST them, signed with the app secret."""

    name = "whatsapp"
    path = "/webhooks/whatsapp"

    def __init__(self, graph: FakeGraph, messages: int) -> None:
        """The bot answers people through `graph`."""
        super().__init__(
            GraphReplies(graph), whatsapp_scripts(messages), WHATSAPP_PEOPLE, WHATSAPP_CALIBRATION
        )

    def request(self, person: int, script: tg.Script, step: str) -> tuple[bytes, dict[str, str]]:
        """A text message, or a list row picked; signed as Meta signs it."""
        if step.startswith(PRESS):
            row = step.removeprefix(PRESS)
            payload = list_reply(str(person), row, NATIVE_NAMES[script.lang])
        else:
            payload = text_message(str(person), step)
        body = encode(payload)
        headers = {
            WHATSAPP_SIGNATURE_HEADER: sign(body, APP_SECRET),
            "Content-Type": "application/json",
        }
        return body, headers


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def bot_argv(
    home: Path, fake: FakeTelegram, graph: FakeGraph, port: int
) -> tuple[list[str], dict[str, str]]:
    """`bot run` in webhook mode for both channels, talking only to the fakes."""
    argv, env = tg.bot_argv("ours", home, fake)  # the Telegram settings, without a rate limit
    env.update(
        TELEGRAM_WEBHOOK_URL=WEBHOOK_URL,  # setWebhook goes to the fake, which only records it
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        WHATSAPP_TOKEN=graph.token,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_ID,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_API_URL=graph.url,
        HOST="127.0.0.1",
        PORT=str(port),
    )
    return argv, env


def children(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    listed = list(Path(f"/proc/{pid}/task").glob("*/children"))
    found: list[int] = []
    for path in listed:
        with contextlib.suppress(OSError):
            found += [int(child) for child in path.read_text().split()]
    if listed:
        return found
    # Kernels built without CONFIG_PROC_CHILDREN have no such file: look for the parent pid.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def engine_child(pid: int) -> int | None:
    """The pid of `bot run`'s engine process (`python -m bot.service.worker`), if it is running."""
    for child in children(pid):
        with contextlib.suppress(OSError):
            if b"bot.service.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
    return None


def peak_rss(pid: int | None) -> float | None:
    """A process's peak resident memory so far (VmHWM), in megabytes, or None."""
    if pid is None:
        return None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def failed(response: httpx.Response | BaseException) -> str | None:
    """What went wrong with a POST, or None when it was answered 2xx."""
    if isinstance(response, BaseException):
        return type(response).__name__
    return None if response.is_success else str(response.status_code)


async def post(
    client: httpx.AsyncClient, side: Side, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response | BaseException, float, float]:
    """POST one update; the answer (or the error), when the request left, when it was answered."""
    sent = [time.monotonic()]

    async def trace(event: str, _info: dict[str, Any]) -> None:
        """Note when the request goes out, which can be a while after this process was asked."""
        if event == "http11.send_request_headers.started":
            sent.append(time.monotonic())

    try:
        answer: httpx.Response | BaseException = await client.post(
            side.path, content=body, headers=headers, extensions={"trace": trace}
        )
    except httpx.HTTPError as exc:
        answer = exc
    return answer, sent[-1], time.monotonic()


async def ready(fake: FakeTelegram, client: httpx.AsyncClient) -> None:
    """Wait until the bot has set its webhook and its web server answers both channels."""
    while fake.webhook_url != WEBHOOK_URL:
        await asyncio.sleep(0.05)
    if fake.webhook_secret != WEBHOOK_SECRET:
        raise tg.BenchError("the bot registered another webhook secret than it was given")
    while True:
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/healthz")).status_code == 200:
                break
        await asyncio.sleep(0.05)
    hub = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    answer = await client.get(WhatsAppSide.path, params=hub)
    if (answer.status_code, answer.text) != (200, "42"):
        raise tg.BenchError(f"WhatsApp verification answered {answer.status_code}")


async def calibrate(side: Side, client: httpx.AsyncClient) -> list[list[int]]:
    """How many replies each turn of each script gets on this channel (also the warm-up)."""

    async def one(person: int, script: tg.Script) -> list[int]:
        """Send a script, waiting for quiet after each turn; the replies to each turn."""
        counts = []
        arrivals = side.replies.arrivals[person]
        for step in script.texts:
            before = len(arrivals)
            answer, _sent, _answered = await post(client, side, *side.request(person, script, step))
            problem = failed(answer)
            if problem is not None:
                raise tg.BenchError(f"calibration: the {side.name} webhook answered {problem}")
            await side.replies.nth(person, before)
            seen = -1
            while seen != len(arrivals):
                seen = len(arrivals)
                await asyncio.sleep(tg.QUIET)
            if seen == before:
                raise tg.BenchError(f"calibration: no {side.name} reply to {step!r}")
            counts.append(seen - before)
        return counts

    people = [side.calibration + i for i in range(len(side.kinds))]
    return list(await asyncio.gather(*(one(p, s) for p, s in zip(people, side.kinds, strict=True))))


async def load(
    side: Side, client: httpx.AsyncClient, counts: list[list[int]], figures: Figures
) -> None:
    """Every person sends their script, closed loop; fill in the channel's figures."""
    expected: dict[int, int] = {}  # people who sent everything: the replies they should get
    result = figures.result

    async def person(who: int, script: tg.Script, replies_per_turn: list[int]) -> None:
        """One resident: each turn waits for every reply to the last, and the POST's answer."""
        index = 0
        for step, n in zip(script.texts, replies_per_turn, strict=True):
            body, headers = side.request(who, script, step)
            if not figures.start:
                figures.start = time.monotonic()
            # The reply is awaited from the moment of the POST, so its timeout counts from there.
            first = asyncio.ensure_future(side.replies.nth(who, index))
            answer, sent, answered = await post(client, side, body, headers)
            figures.posts.latencies.append(answered - sent)
            problem = failed(answer)
            if problem is not None:
                figures.errors[problem] += 1
                first.cancel()
                return  # the closed loop is broken for this person: stop here
            try:
                arrived = await first
                result.latencies.append(arrived - sent)
                result.answered += 1
                # The whole answer before the next message: WhatsApp replies to two messages
                # could interleave, and then counting would match a reply to the wrong one.
                await side.replies.nth(who, index + n - 1)
            except tg.BenchError:
                figures.lost += 1
                return
            index += n
        expected[who] = index

    jobs = []
    for i in range(figures.people):
        kind = i % len(side.kinds)
        jobs.append(person(side.first + i, side.kinds[kind], counts[kind]))
    await asyncio.gather(*jobs)
    arrivals, refused = side.replies.arrivals, side.replies.failed
    figures.end = max((arrivals[who][n - 1] for who, n in expected.items()), default=figures.start)
    result.seconds = figures.end - figures.start
    await asyncio.sleep(tg.QUIET)  # a reply beyond the calibrated ones would show up now
    result.sends = sum(len(arrivals[who]) for who in expected)
    result.failed = sum(refused[side.first + i] for i in range(figures.people))
    result.mismatched = sum(len(arrivals[who]) != n for who, n in expected.items())


@dataclass
class Process:
    """One process's figures: peak memory and CPU during the load."""

    label: str
    rss: float | None = None  # MB
    cpu: float | None = None  # seconds


def cpu_delta(before: float | None, after: float | None) -> float | None:
    """CPU seconds spent between two readings, if both were taken."""
    return after - before if before is not None and after is not None else None


async def drive(
    proc: subprocess.Popen[bytes], sides: list[Side], figures: list[Figures], port: int
) -> list[Process]:
    """Wait until the bot is ready, calibrate, load it; the processes' figures."""
    telegram = sides[0]
    assert isinstance(telegram, TelegramSide)
    # A connection for everyone: each person has at most one POST in flight, so none waits here
    # for a free connection (with 40, Telegram's default for a webhook, some waited 25 s: time
    # that counted against the bot but was spent in this process).
    people = sum(f.people for f in figures)
    limits = httpx.Limits(
        max_connections=people, max_keepalive_connections=people, keepalive_expiry=KEEPALIVE
    )
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        limits=limits,
        timeout=httpx.Timeout(tg.STEP_TIMEOUT),
        trust_env=False,  # no proxy, whatever the environment says: 127.0.0.1 only
    ) as client:
        try:
            async with asyncio.timeout(tg.READY_TIMEOUT):
                await tg.guarded(proc, ready(telegram.fake, client))
        except TimeoutError:
            raise tg.BenchError(f"not ready within {tg.READY_TIMEOUT:.0f}s") from None
        counts = await tg.guarded(
            proc, asyncio.gather(*(calibrate(side, client) for side in sides))
        )
        child = engine_child(proc.pid)
        bot_before, bench_before = tg.cpu_seconds(proc.pid), tg.own_cpu()
        child_before = tg.cpu_seconds(child) if child is not None else None
        await tg.guarded(
            proc,
            asyncio.gather(
                *(load(s, client, c, f) for s, c, f in zip(sides, counts, figures, strict=True))
            ),
        )
        bench_after = tg.own_cpu()
        bot_after = tg.cpu_seconds(proc.pid)
        later = engine_child(proc.pid)
        if later != child:
            print(f"warning: the engine process changed during the load ({child} -> {later})")
        child_after = tg.cpu_seconds(child) if child is not None and later == child else None
        return [
            Process(
                f"bot run (pid {proc.pid})", peak_rss(proc.pid), cpu_delta(bot_before, bot_after)
            ),
            Process(f"engine (pid {child})", peak_rss(child), cpu_delta(child_before, child_after)),
            Process("bench: fakes + people", None, bench_after - bench_before),
        ]


async def measure(people: int, messages: int, work: Path) -> tuple[list[Figures], list[Process]]:
    """Start the fakes and `bot run`, measure, stop everything (whatever happens)."""
    fake, graph = tg.new_fake(), FakeGraph(WHATSAPP_TOKEN)
    await fake.start()
    await graph.start()
    sides: list[Side] = [TelegramSide(fake, messages), WhatsAppSide(graph, messages)]
    figures = [Figures(tg.Result(side.name, messages), people) for side in sides]
    followers = [asyncio.create_task(side.replies.follow()) for side in sides]
    log_path = work / "bot.log"
    proc: subprocess.Popen[bytes] | None = None
    port = free_port()
    try:
        argv, env = bot_argv(work, fake, graph, port)
        with log_path.open("wb") as log:
            proc = tg.launch(argv, env, work, log)
            try:
                processes = await drive(proc, sides, figures, port)
            finally:
                if not await tg.stop(proc):  # the fakes must still be up for a graceful stop
                    print(f"warning: the bot did not stop within {tg.STOP_TIMEOUT:.0f}s; killed")
    except tg.BenchError as exc:
        raise tg.BenchError(f"{exc}\n{tg.tail(log_path)}") from None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        await tg.cancel(followers)
        await graph.stop()
        await fake.stop()
    return figures, processes


def row(label: str, people: int, r: tg.Result, posts: tg.Result, errors: int, lost: int) -> str:
    """One channel's line of the table."""
    replies = r.sends / r.answered if r.answered else 0.0
    return (
        f"{label:10}{people:>7}{r.answered:>9}{r.seconds:>9.2f}{r.rate:>8.1f}"
        f"{r.percentile(50):>8.0f}{r.percentile(99):>8.0f}{posts.percentile(50):>10.0f}"
        f"{posts.percentile(99):>10.0f}{replies:>9.2f}{errors:>9}{lost:>6}"
    )


def report(figures: list[Figures], processes: list[Process], messages: int) -> bool:
    """Print the table; True when the run was clean."""
    people = " + ".join(f"{f.people} {f.result.name}" for f in figures)
    print(
        f"\n{people} people x {messages} messages each, closed loop, against one `bot run` "
        "serving both webhooks on 127.0.0.1\n(TELEGRAM_MAX_RATE=0: the fake Bot API has no "
        "flood limit). Latency: from a POST going out to the first reply at the fake.\n"
    )
    head = (
        f"{'channel':10}{'people':>7}{'updates':>9}{'seconds':>9}{'upd/s':>8}{'p50 ms':>8}"
        f"{'p99 ms':>8}{'POST p50':>10}{'POST p99':>10}{'replies':>9}{'non-2xx':>9}{'lost':>6}"
    )
    print(head)
    print("-" * len(head))
    for f in figures:
        print(row(f.result.name, f.people, f.result, f.posts, sum(f.errors.values()), f.lost))
    both = tg.Result("both", messages)
    both.answered = sum(f.result.answered for f in figures)
    both.sends = sum(f.result.sends for f in figures)
    both.latencies = [s for f in figures for s in f.result.latencies]
    both.seconds = max(f.end for f in figures) - min(f.start for f in figures)
    posts = tg.Result("POST", messages)
    posts.latencies = [s for f in figures for s in f.posts.latencies]
    errors = sum(sum(f.errors.values()) for f in figures)
    lost = sum(f.lost for f in figures)
    print("-" * len(head))
    print(row("both", sum(f.people for f in figures), both, posts, errors, lost))
    print("(replies: messages the bot sent per update; POST: ms until the webhook answered)\n")
    print(f"{'process':28}{'peak RSS MB':>12}{'CPU ms/update':>15}")
    for p in processes:
        rss = f"{p.rss:.0f}" if p.rss is not None else "-"
        print(f"{p.label:28}{rss:>12}{both.per_message(p.cpu):>15}")
    clean = True
    for f in figures:
        r = f.result
        if f.errors or f.lost or r.failed or r.mismatched:
            clean = False
            shown = ", ".join(f"{n} x {what}" for what, n in f.errors.most_common()) or "none"
            print(
                f"{r.name}: POSTs not answered 2xx: {shown}; {f.lost} lost repl(ies); "
                f"{r.failed} send(s) the fake refused; {r.mismatched} chat(s) got another number "
                "of replies than calibrated"
            )
    print(
        "\nclean: every update answered 2xx, every reply arrived"
        if clean
        else "\nNOT CLEAN: see above"
    )
    return clean


async def run(people: int, messages: int) -> bool:
    """Measure once in a fresh data directory; report."""
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        print(f"measuring `bot run` with {people} + {people} people...", flush=True)
        figures, processes = await measure(people, messages, Path(tmp))
        return report(figures, processes, messages)


def main() -> int:
    """Parse the options, run, and exit 0 when the run was clean, 2 if not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--people", type=int, default=100, help="simulated people on each channel (default 100)"
    )
    parser.add_argument("--messages", type=int, default=10, help="messages each (default 10)")
    parser.add_argument(
        "--quick", action="store_true", help="10 + 10 people x 5 messages: a smoke run"
    )
    args = parser.parse_args()
    people, messages = (10, 5) if args.quick else (args.people, args.messages)
    if people < 1 or messages < 1:
        parser.error("--people and --messages must be at least 1")
    try:
        return 0 if asyncio.run(run(people, messages)) else 2
    except tg.BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
