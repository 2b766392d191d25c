"""Faults: oversized bodies, one person flooding, and `bot run` killed with -9 mid-conversation.

Run: .venv/bin/python bench/fault_bench.py [--part memory|flood|kill|all] [--trials 10]
     [--rounds 2] [--seconds 20] [--seed N] [--quick]
Targets: under 10 MB of RSS growth for each wave of oversized bodies, and an ordinary message
still answered afterwards; others' p99 latency during a flood at most 1.5x their p99 without
one; over every kill -9 and restart, no update acknowledged with 200 and then never run, no
report lost or duplicated, and no reference that never reached its person.

Every `bot run` is this checkout's code (cwd and PYTHONPATH are the checkout), started, stopped
and measured with the helpers of bench/telegram_bench.py and bench/web_bench.py, in webhook
mode, against the fake Bot API (tests/fake_telegram.py) and, for the memory part, the fake
Graph API (tests/fake_whatsapp.py), both on 127.0.0.1 in this process; nothing goes online.

memory: `bot run` with both webhooks, idle, then warmed with a few messages on each channel.
Then three waves of four concurrent 100 MB bodies: chunked (no Content-Length) and unsigned to
/webhooks/whatsapp; with a declared Content-Length of 100,000,000 to /webhooks/whatsapp; chunked
to /webhooks/telegram with the right secret. The callers write 64 KB pieces on raw sockets, each
as soon as the server has taken the last (httpx only reads an answer once it has sent the whole
body, so it could not say when the server refused), while they listen for the answer. For each
wave: the answers, the seconds until each came, how the sending ended (the server hung up, or
read and dropped all of it), and the growth of `bot run`'s RSS: the peak (VmHWM, reset through
/proc/PID/clear_refs before the wave, and VmRSS sampled during it) minus VmRSS before. Then an
ordinary message on each channel must still be answered.

flood: 20 "others" on Telegram, each in a closed loop (the next message once the reply to the
last has reached the fake) and at most one message every 2.5 s, so under the per-person limit of
30 a minute; latency is from the POST going out to the first reply at the fake. Each round has
an idle phase and a flood phase of --seconds each, with fresh people in each. In the flood phase
one person at a time sends 1,000 messages as fast as the webhook takes them (50 POSTs in
flight, from a process of its own, so that its client work does not delay this process's event
loop, where the fake stamps the others' replies); once every POST of one flood is answered the
next flooder, a fresh account, starts, until the phase ends. A flood lasts from its first POST
to its last answer or the flooder's last reply, whichever is later; only the others' messages
sent while a flood was on count for "during a flood", and in both phases the first 2.5 s, while
the others fall into step, do not count. Reported: p50/p99 of each phase over all rounds and per
round, the ratio of the p99s, and the replies each flooder got (30 answers and one "slow down"
expected).

kill: --trials trials on one data directory, with one fake Bot API kept running throughout, as
Telegram would be. In each trial `bot run` (Telegram webhook only) starts in its own session;
10 fresh people each fill the noise report form by pressing its buttons and typing their
answers (a marker such as trial3person7 in what they type) and press Send, a short pause
between steps, while 20 others send ordinary messages (one every 0.5 s at most: a dozen in a
bot's life, far from the limit); at a random moment of that busy period
(seeded: the seed is printed) the bot and its engine process are killed together with
os.killpg(SIGKILL). Every update POSTed is recorded with its answer. `bot run` restarts on the
same data directory; every update not answered 200 is POSTed again with its update_id (Telegram
redelivers those); then each person who has no reference carries on as a person would: one who
had pressed Send presses it again; one cut off mid-form repeats a step the bot never answered
and goes on; whoever the bot tells that their answers were lost (the draft lived in the killed
process) types them again, and whoever misses a button they need starts again from /start.
Once all is quiet the bot stops. Then, over all trials: updates answered 200 whose turn never
ran (no row in `processed` under their HMAC key), leaving out any the per-person limit would
drop; reports lost (a person answered 200 for a Send press, or who received a reference, with no
report carrying their marker in `bot reports export --format json`) and duplicated (two reports
with one marker); and references never sent (a report whose reference is in no message the fake
received for its person's chat).

The whole run (`--part all`) takes four to five minutes on a 2-core machine; --quick is a smoke
run of about a minute and a half. Exit status: 0 when it ran cleanly, even if a target is missed
(MISSED is printed beside it); 2 when something could not be measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# The repository root (bot.*, tests.*), and this folder (the other benches).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import telegram_bench as tg
import web_bench as wb

from bot.channels.telegram.channel import WEBHOOK_CONNECTIONS
from bot.channels.web import MAX_BODY, TELEGRAM_SECRET_HEADER
from bot.core.reports import REFERENCE_ALPHABET
from bot.core.screens import LOST_ANSWERS
from bot.service.conversation import BURST_MAX, SLOW_DOWN, turn_limits
from tests.fake_telegram import BOT_ID, FakeTelegram, callback_data_of
from tests.fake_whatsapp import FakeGraph

ROOT = Path(__file__).resolve().parent.parent  # the checkout whose code every `bot run` runs
JSON = dict[str, Any]
VERDICT = {True: "met", False: "MISSED"}
EN = tg.Script("en", ())  # the language every simulated person's Telegram app reports
REFERENCE = re.compile(f"KC-[{REFERENCE_ALPHABET}]{{3}}-[{REFERENCE_ALPHABET}]{{3}}")
QUIET = 1.0  # seconds without a new call to the fake: the bot has finished answering
QUIET_LIMIT = 60.0  # seconds to wait for that, at most

# memory
STREAM_BYTES = 100_000_000  # each oversized body
STREAMS = 4  # callers at once, per wave
PIECE = 64 * 1024  # bytes written at a time
MEMORY_TARGET = 10.0  # MB of RSS growth per wave, at most
ANSWER_TIMEOUT = 60.0  # seconds for the server to answer an oversized body
SAMPLE_EVERY = 0.005  # seconds between VmRSS readings during a wave

# flood
OTHERS = 20
PACE = 2.5  # seconds between one person's messages, at least: 24 a minute, under the limit
FLOOD = 1000  # messages per flooder
# The flooder's POSTs at once: as many as Telegram opens to the webhook, which the bot sets
# (one person's messages reach the bot only through Telegram, who holds back the rest).
IN_FLIGHT = WEBHOOK_CONNECTIONS
FLOOD_EVERY = 5.0  # seconds from one flooder's start to the next's, at least
FLOOD_TARGET = 1.5  # p99 during a flood / p99 idle, at most
FLOOD_TEXT = "noisy neighbours every night"
SLOW_DOWN_WORDS = SLOW_DOWN.split(",")[0]  # "You are sending messages very fast"
OTHER_TEXTS = (
    "/start",
    "noisy neighbours every night",
    "tips to keep my bike safe",
    "/help",
    "someone dumped a mattress and sofa outside my block",
    "scam call bank said move my money",
    "/privacy",
    "graffiti all over the wall on our street",
)  # none of them a danger message, so each gets one reply

# kill
TRIALS = 10
PEOPLE = 10  # filing a report, per trial
CHATTERS = 20  # sending ordinary messages, per trial
START_SPREAD = 2.0  # seconds: each person starts at a random moment this early in the trial
THINK = (0.15, 0.45)  # seconds a person pauses after a reply before their next step
CHAT_PACE = 0.5  # seconds between an ordinary chatter's messages, at least (12 a life at most)
BUSY = (0.5, 6.0)  # seconds into a trial: the busy period, where the kill lands
REPLY_TIMEOUT = 15.0  # seconds a person waits for an answer before giving up
REDELIVERIES = 5  # POSTs of one update after the restart, at most, until it is answered 200
SEND = "act:file_report"
LOST_WORDS = LOST_ANSWERS.split(":")[0]  # "... what you typed for this report was lost"
ALREADY_SENT_WORDS = "already sent"  # its answer to Send once the draft is filed (or expired)
MARKER = re.compile(r"trial\d+person\d+")


def form(marker: str) -> tuple[tuple[str, str], ...]:
    """The noise report form as a person on Telegram fills it: (press or text, what)."""
    return (
        ("text", "/start"),
        ("press", "report"),  # Report something
        ("press", "report.what"),  # no one is in danger
        ("press", "report.noise"),
        ("press", "report.noise.other"),  # not a council tenant, or not sure
        ("press", "report.noise.other#0"),  # Leave a report
        ("text", f"Loud music from flat 3 every night, {marker}"),
        ("text", "Golborne Road W10 5NR"),
        ("press", "report.form.when#2"),  # this week
        ("press", "report.form.ongoing#0"),  # yes
        ("press", "report.form.contact#0"),  # anonymous
        ("press", SEND),
    )


# ------------------------------------------------------------------------------------- common


def machine() -> str:
    """One line about this machine, for the README."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    return (
        f"machine: {os.cpu_count()} cores ({model}{platform.machine()}), Linux "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def bot_command(
    home: Path, fake: FakeTelegram, graph: FakeGraph | None, port: int
) -> tuple[list[str], dict[str, str]]:
    """`bot run` of this checkout in webhook mode (WhatsApp too with a graph), on the fakes."""
    if graph is not None:
        argv, env = wb.bot_argv(home, fake, graph, port)
    else:
        argv, env = tg.bot_argv("ours", home, fake)  # WHATSAPP_TOKEN="": Telegram only
        env.update(
            TELEGRAM_WEBHOOK_URL=wb.WEBHOOK_URL,
            TELEGRAM_WEBHOOK_SECRET=wb.WEBHOOK_SECRET,
            HOST="127.0.0.1",
            PORT=str(port),
        )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return argv, env


def client_for(port: int, connections: int = 100) -> httpx.AsyncClient:
    """An HTTP client for one bot's web server: 127.0.0.1 only, a connection for everyone."""
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=wb.KEEPALIVE,
    )
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        limits=limits,
        timeout=httpx.Timeout(tg.STEP_TIMEOUT),
        trust_env=False,  # no proxy, whatever the environment says
    )


class Bot:
    """One `bot run` on a port of its own, its output appended to home/bot.log."""

    def __init__(self, home: Path, fake: FakeTelegram, graph: FakeGraph | None = None) -> None:
        """Prepare the command; start() launches it."""
        self.home = home
        self.port = wb.free_port()
        self.argv, self.env = bot_command(home, fake, graph, self.port)
        self.whatsapp = graph is not None
        self.log_path = home / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = client_for(self.port)

    @property
    def pid(self) -> int:
        """The bot process's id (it leads its own process group)."""
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        """Launch it and wait until its web server answers (and WhatsApp's verification)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = tg.launch(self.argv, self.env, ROOT, log)
        try:
            async with asyncio.timeout(tg.READY_TIMEOUT):
                await tg.guarded(self.proc, self._ready())
        except (TimeoutError, tg.BenchError) as exc:
            self.kill()  # a bot that never got ready must not outlive the part
            await self.client.aclose()
            timeout = isinstance(exc, TimeoutError)
            problem = f"not ready within {tg.READY_TIMEOUT:.0f}s" if timeout else str(exc)
            raise self.error(problem) from None

    async def _ready(self) -> None:
        """Poll /healthz until it says ok; check the WhatsApp verification if it is on."""
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await self.client.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
        if self.whatsapp:
            hub = {
                "hub.mode": "subscribe",
                "hub.verify_token": wb.VERIFY_TOKEN,
                "hub.challenge": "7",
            }
            answer = await self.client.get(wb.WhatsAppSide.path, params=hub)
            if (answer.status_code, answer.text) != (200, "7"):
                raise tg.BenchError(f"WhatsApp verification answered {answer.status_code}")

    def error(self, what: str) -> tg.BenchError:
        """A measurement failure, with the end of the bot's log."""
        return tg.BenchError(f"bot run: {what}\n{tg.tail(self.log_path)}")

    def alive(self) -> bool:
        """Whether the bot process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 the bot and its engine child together: its whole process group."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # still ours: not reaped yet
        self.proc.wait()

    async def stop(self) -> None:
        """Stop it gracefully (SIGTERM; -9 if it hangs) and close the client."""
        try:
            if self.proc is not None and not await tg.stop(self.proc):
                print(f"warning: bot run did not stop within {tg.STOP_TIMEOUT:.0f}s; killed")
        finally:
            await self.client.aclose()

    async def post(self, body: bytes) -> str:
        """POST one Telegram update: '200', another status, or the error's name."""
        headers = {TELEGRAM_SECRET_HEADER: wb.WEBHOOK_SECRET, "Content-Type": "application/json"}
        try:
            answer = await self.client.post(wb.TelegramSide.path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return str(answer.status_code)


def encode(update: JSON) -> bytes:
    """An update as the Bot API POSTs it."""
    return json.dumps(update, ensure_ascii=False).encode()


async def quiet(fake: FakeTelegram, seconds: float = QUIET, limit: float = QUIET_LIMIT) -> None:
    """Wait until the fake has received no call for `seconds` (for `limit` at most)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        seen = len(fake.calls)
        await asyncio.sleep(seconds)
        if len(fake.calls) == seen:
            return


async def first_reply(
    replies: tg.Replies, chat: int, index: int, stop: asyncio.Event, timeout: float
) -> float | None:
    """When the chat's reply number `index` arrived, or None if `stop` is set or time runs out."""
    wanted = asyncio.ensure_future(replies.nth(chat, index, timeout))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({wanted, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (wanted, stopped):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, tg.BenchError):
                await task
    if wanted.cancelled() or wanted.exception() is not None:
        return None
    return wanted.result()


@contextlib.asynccontextmanager
async def following(replies: tg.Replies) -> Any:
    """Follow the fake's sendMessage calls while the block runs."""
    task = asyncio.create_task(replies.follow())
    try:
        yield replies
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile of seconds, in milliseconds."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


def spread(values: list[float], unit: str = "", digits: int = 2) -> str:
    """`a` or `a-b` for the smallest and largest value."""
    if not values:
        return "-"
    low, high = min(values), max(values)
    if f"{low:.{digits}f}" == f"{high:.{digits}f}":
        return f"{low:.{digits}f}{unit}"
    return f"{low:.{digits}f}-{high:.{digits}f}{unit}"


# ------------------------------------------------------------------------------------- memory


def status_mb(pid: int, name: str) -> float | None:
    """One figure of /proc/PID/status (VmRSS, VmHWM) in MB, or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1]) / 1024
    return None


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its VmRSS now (Linux 4.0+); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Stream:
    """What one caller sending an oversized body saw."""

    status: str = "no answer"  # the HTTP status, or "closed" if the server hung up unanswered
    answered: float | None = None  # seconds from the first byte until the answer or hang-up
    written_then: int = 0  # bytes handed to the socket by then (some sat in its buffers)
    written: int = 0  # bytes handed to the socket in all
    closed: bool = False  # the server closed the connection before the whole body was sent
    seconds: float = 0.0  # until the sending ended


async def oversized(
    port: int, path: str, headers: dict[str, str], size: int, declared: bool
) -> Stream:
    """POST `size` bytes of junk, chunked or with a Content-Length, listening for the answer."""
    result = Stream()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {size}" if declared else "Transfer-Encoding: chunked")
    piece = b"x" * PIECE
    framed = piece if declared else b"%x\r\n%b\r\n" % (PIECE, piece)
    start = time.monotonic()

    async def listen() -> None:
        """Read the status line of the answer, or note the hang-up."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            result.status = head.split(b" ", 2)[1].decode()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            result.status = "closed"
        result.answered = time.monotonic() - start
        result.written_then = result.written

    listener = asyncio.create_task(listen())
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        while result.written < size:
            n = min(PIECE, size - result.written)
            if n == PIECE:
                writer.write(framed)
            else:
                writer.write(piece[:n] if declared else b"%x\r\n%b\r\n" % (n, piece[:n]))
            await writer.drain()  # as fast as the server reads, no faster
            result.written += n
            await asyncio.sleep(0)  # drain() does not yield while the server keeps up: listen
        if not declared:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except ConnectionError:
        result.closed = True
    result.seconds = time.monotonic() - start
    try:
        await asyncio.wait_for(asyncio.shield(listener), ANSWER_TIMEOUT)
    except TimeoutError:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return result


@dataclass
class Wave:
    """Four oversized bodies at once, and what they did to `bot run`'s memory."""

    label: str
    streams: list[Stream]
    before: float  # MB of RSS before the wave
    peak: float  # MB: the highest RSS during it
    exact: bool  # the peak is VmHWM, reset before the wave (else only sampled)
    alive: bool  # the bot was still running after it

    @property
    def growth(self) -> float:
        """MB the process grew by."""
        return max(0.0, self.peak - self.before)


async def wave(
    bot: Bot, label: str, path: str, headers: dict[str, str], size: int, declared: bool
) -> Wave:
    """Send STREAMS oversized bodies at once, watching the bot's RSS."""
    pid = bot.pid
    exact = reset_peak(pid)
    before = status_mb(pid, "VmRSS") or 0.0
    sampled = [before]
    done = asyncio.Event()

    async def sample() -> None:
        """Read VmRSS often until the wave is over."""
        while not done.is_set():
            rss = status_mb(pid, "VmRSS")
            if rss is not None:
                sampled.append(rss)
            await asyncio.sleep(SAMPLE_EVERY)

    sampler = asyncio.create_task(sample())
    try:
        streams = await asyncio.gather(
            *(oversized(bot.port, path, headers, size, declared) for _ in range(STREAMS))
        )
    finally:
        done.set()
        await sampler
    peak = max(sampled)
    hwm = status_mb(pid, "VmHWM")
    if exact and hwm is not None:
        peak = max(peak, hwm)
    return Wave(label, list(streams), before, peak, exact, bot.alive())


@dataclass
class MemoryResult:
    """The memory part's figures."""

    size: int
    idle: float
    warmed: float
    warm_messages: int
    waves: list[Wave] = field(default_factory=list)
    after: dict[str, float | None] = field(default_factory=dict)  # channel: ms to the reply


async def ordinary(side: wb.Side, bot: Bot, person: int, text: str) -> float | None:
    """One ordinary message from a person who has talked before: ms to the reply, or None."""
    arrivals = side.replies.arrivals[person]
    before = len(arrivals)
    body, headers = side.request(person, side.kinds[0], text)
    answer, sent, _ = await wb.post(bot.client, side, body, headers)
    if wb.failed(answer) is not None:
        return None
    try:
        arrived = await side.replies.nth(person, before, tg.STEP_TIMEOUT)
    except tg.BenchError:
        return None
    return (arrived - sent) * 1000


async def memory_part(work: Path, size: int) -> MemoryResult:
    """Start `bot run` with both webhooks, warm it, send the waves, check it still answers."""
    fake, graph = tg.new_fake(), FakeGraph(wb.WHATSAPP_TOKEN)
    await fake.start()
    await graph.start()
    sides: list[wb.Side] = [wb.TelegramSide(fake, 3), wb.WhatsAppSide(graph, 3)]
    followers = [asyncio.create_task(side.replies.follow()) for side in sides]
    bot = Bot(work / "memory", fake, graph)
    try:
        await bot.start()
        proc = bot.proc
        assert proc is not None
        await asyncio.sleep(1.0)  # let start-up settle
        idle = status_mb(bot.pid, "VmRSS") or 0.0
        counts = await tg.guarded(
            proc, asyncio.gather(*(wb.calibrate(side, bot.client) for side in sides))
        )
        warmed = status_mb(bot.pid, "VmRSS") or 0.0
        result = MemoryResult(size, idle, warmed, sum(len(c) for turns in counts for c in turns))
        secret = {TELEGRAM_SECRET_HEADER: wb.WEBHOOK_SECRET}
        plan: tuple[tuple[str, str, dict[str, str], bool], ...] = (
            ("WhatsApp, chunked, unsigned", wb.WhatsAppSide.path, {}, False),
            (f"WhatsApp, Content-Length: {size}, unsigned", wb.WhatsAppSide.path, {}, True),
            ("Telegram, chunked, right secret", wb.TelegramSide.path, secret, False),
        )
        for label, path, headers, declared in plan:
            print(f"memory: {label}...", flush=True)
            result.waves.append(await wave(bot, label, path, headers, size, declared))
            if not bot.alive():
                break
        if bot.alive():
            # Someone who talked in the warm-up (English script) writes again on each channel.
            for side in sides:
                ms = await ordinary(side, bot, side.calibration, "tips to keep my bike safe")
                result.after[side.name] = ms
        else:
            result.after = {side.name: None for side in sides}
        return result
    finally:
        await bot.stop()
        await tg.cancel(followers)
        await graph.stop()
        await fake.stop()


def report_memory(r: MemoryResult) -> None:
    """Print the memory part's table."""
    mb = r.size / 1_000_000
    print(
        f"\nmemory: one `bot run` (both webhooks); {STREAMS} concurrent {mb:.0f} MB bodies a wave, "
        f"written {PIECE // 1024} KB at a time as fast as the server reads\n"
        f"RSS of bot run: idle {r.idle:.0f} MB; warmed with {r.warm_messages} messages "
        f"{r.warmed:.0f} MB (the body cap is {MAX_BODY:,} bytes)\n"
    )
    head = (
        f"{'wave':46}{'answers':>14}{'refused after s':>17}{'MB out then':>13}  "
        f"{'sending ended':34}{'RSS growth MB':>14}  target"
    )
    print(head)
    print("-" * len(head))
    for w in r.waves:
        statuses = Counter(s.status for s in w.streams)
        answers = ", ".join(f"{n} x {status}" for status, n in statuses.most_common())
        refused = spread([s.answered for s in w.streams if s.answered is not None])
        then = spread([s.written_then / 1_000_000 for s in w.streams], digits=1)
        closed = [s for s in w.streams if s.closed]
        if closed:
            after = spread([s.written / 1e6 for s in closed], " MB", 1)
            ended = f"{len(closed)} x server hung up after {after}"
        else:
            ended = (
                f"server read all {mb:.0f} MB, {spread([s.seconds for s in w.streams], ' s', 1)}"
            )
        if len(closed) not in (0, len(w.streams)):
            ended += " (others read whole)"
        ok = w.growth < MEMORY_TARGET and w.alive
        note = "" if w.exact else " (sampled)"
        print(
            f"{w.label:46}{answers:>14}{refused:>17}{then:>13}  {ended:34}"
            f"{w.growth:>14.1f}  < {MEMORY_TARGET:.0f} MB {VERDICT[ok]}{note}"
        )
        if not w.alive:
            print("  bot run DIED during this wave")
    print(
        "(refused after: seconds from a caller's first byte to the server's answer or hang-up; "
        "MB out then: what the caller had handed to its socket by then, buffers included; "
        "RSS growth: peak VmHWM during the wave, reset before it, minus VmRSS before it)"
    )
    for channel, ms in r.after.items():
        shown = f"answered in {ms:.0f} ms" if ms is not None else "NOT answered"
        print(f"afterwards, an ordinary {channel} message: {shown}  {VERDICT[ms is not None]}")


# -------------------------------------------------------------------------------------- flood


@dataclass
class Samples:
    """The others' latencies: (when the POST went out, seconds to the first reply)."""

    latencies: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0  # POSTs not answered 2xx
    lost: int = 0  # replies that never came

    def within(self, windows: list[tuple[float, float]]) -> list[float]:
        """The latencies of messages sent inside any of the windows."""
        return [s for at, s in self.latencies if any(a <= at <= b for a, b in windows)]


async def others(
    side: wb.TelegramSide,
    bot: Bot,
    first: int,
    people: int,
    seconds: float,
    out: Samples,
    rng: random.Random,
) -> None:
    """`people` fresh people in a closed loop, one message every PACE s at most, for `seconds`."""
    deadline = time.monotonic() + seconds

    async def person(chat: int, offset: float) -> None:
        """One person's messages, each once the reply to the last has arrived."""
        await asyncio.sleep(offset)
        turn = 0
        while time.monotonic() < deadline:
            began = time.monotonic()
            before = len(side.replies.arrivals[chat])
            body, headers = side.request(chat, EN, OTHER_TEXTS[turn % len(OTHER_TEXTS)])
            answer, sent, _ = await wb.post(bot.client, side, body, headers)
            if wb.failed(answer) is not None:
                out.errors += 1
            else:
                try:
                    arrived = await side.replies.nth(chat, before, tg.STEP_TIMEOUT)
                    out.latencies.append((sent, arrived - sent))
                except tg.BenchError:
                    out.lost += 1
            turn += 1
            await asyncio.sleep(max(0.0, began + PACE - time.monotonic()))

    await asyncio.gather(*(person(first + i, rng.uniform(0, PACE)) for i in range(people)))


# The flooder runs in a process of its own: the POSTs' client work must not hold up this
# process's event loop, where the fake stamps the arrival of every reply the others get. An
# attacker's client runs on a machine of its own; here it shares the cores, so it runs only when
# they would otherwise be idle (SCHED_IDLE) and uses the CPU the bot leaves, rather than taking
# the bot's. The report says how fast the flood came all the same.
FLOODER = """\
import asyncio, json, os, sys, time
import httpx
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

async def main() -> None:
    url, secret, in_flight = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bodies = iter(sys.stdin.buffer.read().splitlines())
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)

    async def sender(client: httpx.AsyncClient) -> None:
        for body in bodies:
            try:
                status = str((await client.post(url, content=body, headers=headers)).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            statuses[status] = statuses.get(status, 0) + 1

    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:
        start = time.monotonic()
        await asyncio.gather(*(sender(client) for _ in range(in_flight)))
        posted = time.monotonic()
    print(json.dumps({"start": start, "posted": posted, "statuses": statuses}))

asyncio.run(main())
"""


@dataclass
class Flood:
    """One flooder's messages."""

    chat: int
    start: float = 0.0  # the first POST (CLOCK_MONOTONIC, the same in every process)
    posted: float = 0.0  # every POST answered
    end: float = 0.0  # that, or the flooder's last reply if later
    statuses: Counter[str] = field(default_factory=Counter)
    answers: int = 0
    slow_downs: int = 0

    @property
    def seconds(self) -> float:
        """How long the flood lasted."""
        return self.end - self.start

    def tally(self, side: wb.TelegramSide) -> None:
        """Once the bot is quiet: when the flood ended and the replies the flooder got."""
        arrivals = side.replies.arrivals[self.chat]
        self.end = max(self.posted, arrivals[-1] if arrivals else self.posted)
        texts = side.fake.texts(self.chat)
        self.slow_downs = sum(SLOW_DOWN_WORDS in text for text in texts)
        self.answers = len(texts) - self.slow_downs


async def flood(side: wb.TelegramSide, bot: Bot, chat: int, messages: int) -> Flood:
    """One fresh person sends `messages` as fast as possible, IN_FLIGHT POSTs at once."""
    result = Flood(chat)
    bodies = b"\n".join(side.request(chat, EN, FLOOD_TEXT)[0] for _ in range(messages))
    url = f"http://127.0.0.1:{bot.port}{wb.TelegramSide.path}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FLOODER,
        url,
        wb.WEBHOOK_SECRET,
        str(IN_FLIGHT),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate(bodies)
    if proc.returncode != 0:
        raise tg.BenchError(f"the flooder failed with status {proc.returncode}")
    figures = json.loads(out)
    result.start, result.posted = float(figures["start"]), float(figures["posted"])
    result.statuses.update({str(k): int(v) for k, v in figures["statuses"].items()})
    return result


@dataclass
class Round:
    """One idle phase and one flood phase."""

    idle: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    floods: list[Flood] = field(default_factory=list)
    errors: int = 0
    lost: int = 0


async def flood_part(
    work: Path, rounds: int, seconds: float, people: int, messages: int, rng: random.Random
) -> list[Round]:
    """Rounds of an idle phase and a flood phase against one Telegram-only `bot run`."""
    fake = tg.new_fake()
    await fake.start()
    side = wb.TelegramSide(fake, 1)
    bot = Bot(work / "flood", fake)
    found: list[Round] = []
    chats = iter(range(tg.USER_CHATS, 500_000, 100))  # a fresh block of people each phase
    flooders = iter(range(500_000, 600_000))
    try:
        async with following(side.replies):
            await bot.start()
            proc = bot.proc
            assert proc is not None
            # Warm-up, uncounted: a phase's worth of people for a few seconds.
            await tg.guarded(proc, others(side, bot, next(chats), people, PACE * 2, Samples(), rng))
            for i in range(rounds):
                r = Round()
                print(f"flood: round {i + 1}/{rounds}, idle phase...", flush=True)
                idle = Samples()
                start = time.monotonic()
                await tg.guarded(proc, others(side, bot, next(chats), people, seconds, idle, rng))
                r.idle = idle.within([(start + PACE, time.monotonic())])
                await quiet(fake)
                print(f"flood: round {i + 1}/{rounds}, flood phase...", flush=True)
                during = Samples()
                talk = asyncio.ensure_future(
                    others(side, bot, next(chats), people, seconds, during, rng)
                )
                deadline = time.monotonic() + seconds
                await asyncio.sleep(PACE)  # the others fall into step first
                while time.monotonic() < deadline:
                    # One person floods at a time, a fresh one every FLOOD_EVERY seconds: back to
                    # back, they would be a crowd of new people, each with turns of their own.
                    due = time.monotonic() + FLOOD_EVERY
                    r.floods.append(
                        await tg.guarded(proc, flood(side, bot, next(flooders), messages))
                    )
                    await asyncio.sleep(max(0.0, min(due, deadline) - time.monotonic()))
                await tg.guarded(proc, talk)
                await quiet(fake)
                for f in r.floods:
                    f.tally(side)
                r.during = during.within([(f.start, f.end) for f in r.floods])
                r.errors, r.lost = idle.errors + during.errors, idle.lost + during.lost
                found.append(r)
    finally:
        await bot.stop()
        await fake.stop()
    return found


def report_flood(found: list[Round], seconds: float, people: int, messages: int) -> None:
    """Print the flood part's table."""
    print(
        f"\nflood: {people} others on Telegram, closed loop, one message each every {PACE} s at "
        f"most; {len(found)} round(s) of a {seconds:.0f} s idle phase and a {seconds:.0f} s "
        f"flood phase.\nIn a flood, one fresh person every {FLOOD_EVERY:.0f} s sends {messages} "
        f"messages, {IN_FLIGHT} POSTs in flight (the webhook's max_connections).\n"
        "Latency: POST out to first reply at the fake.\n"
    )
    head = f"{'phase':22}{'samples':>8}{'p50 ms':>8}{'p99 ms':>8}"
    print(head)
    print("-" * len(head))
    idle = [s for r in found for s in r.idle]
    during = [s for r in found for s in r.during]
    rows = [("idle", idle), ("during a flood", during)]
    for i, r in enumerate(found, 1):
        rows += [(f"round {i} idle", r.idle), (f"round {i} flood", r.during)]
    for label, values in rows:
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"{label:22}{len(values):>8}{p50:>8.0f}{p99:>8.0f}")
    p99_idle, p99_flood = percentile(idle, 99), percentile(during, 99)
    ratio = p99_flood / p99_idle if p99_idle else float("inf")
    per_round = [
        percentile(r.during, 99) / percentile(r.idle, 99) for r in found if r.idle and r.during
    ]
    print(
        f"\nothers' p99 during a flood / idle  {ratio:.2f}x  ({p99_flood:.0f} / {p99_idle:.0f} ms;"
        f" target <= {FLOOD_TARGET}x)  {VERDICT[ratio <= FLOOD_TARGET]}"
    )
    if len(per_round) > 1:
        each = ", ".join(f"{x:.2f}x" for x in per_round)
        print(f"  per round: {each} (median {statistics.median(per_round):.2f}x)")
    floods = [f for r in found for f in r.floods]
    statuses: Counter[str] = Counter()
    for f in floods:
        statuses.update(f.statuses)
    shown = ", ".join(f"{n} x {status}" for status, n in statuses.most_common())
    rates = [sum(f.statuses.values()) / f.seconds for f in floods if f.seconds > 0]
    print(
        f"floods: {len(floods)}, each {spread([f.seconds for f in floods], ' s', 1)} "
        f"({spread(rates, ' messages/s', 0)}); their POSTs answered: {shown}"
    )
    got = Counter((f.answers, f.slow_downs) for f in floods)
    print(
        "replies each flooder got: "
        + "; ".join(
            f"{a} answers + {s} slow down ({n} flooder(s))" for (a, s), n in got.most_common()
        )
        + f"  (expected {BURST_MAX} + 1: a flood is shorter than a burst's window)"
    )
    errors, lost = sum(r.errors for r in found), sum(r.lost for r in found)
    if errors or lost:
        print(f"others: {errors} POST(s) not answered 2xx, {lost} repl(ies) that never came")


# --------------------------------------------------------------------------------------- kill


@dataclass
class Delivery:
    """One update as Telegram holds it: POSTed until it is answered 200."""

    update_id: int
    chat: int
    body: bytes
    send: bool  # a press of Send
    trial: int
    answers: list[tuple[int, str, float]] = field(default_factory=list)  # bot life, status, when

    @property
    def acked(self) -> tuple[int, float] | None:
        """The bot life and moment it was answered 200, if it was."""
        return next(((life, at) for life, status, at in self.answers if status == "200"), None)


class Telegram:
    """The fake Bot API as the kill trials share it, and every update POSTed through it."""

    def __init__(self, fake: FakeTelegram) -> None:
        """Follow the fake's replies; record deliveries."""
        self.fake = fake
        self.replies = tg.Replies(fake)
        self.deliveries: list[Delivery] = []
        self.bot: Bot | None = None
        self.life = 0
        self.trial = 0
        self.stop = asyncio.Event()  # set when the bot is killed: people stop where they are
        self.people: list[Person] = []
        self._texts: defaultdict[int, list[str]] = defaultdict(list)
        self._scanned = 0  # calls of the fake read into _texts

    async def deliver(self, update: JSON, send: bool = False) -> str:
        """POST a new update to the bot and record its answer."""
        delivery = Delivery(
            int(update["update_id"]), chat_of(update), encode(update), send, self.trial
        )
        self.deliveries.append(delivery)
        return await self.again(delivery)

    async def again(self, delivery: Delivery) -> str:
        """POST an update (again) to the bot running now; record and return its answer."""
        assert self.bot is not None
        status = await self.bot.post(delivery.body)
        delivery.answers.append((self.life, status, time.monotonic()))
        return status

    def button(self, chat: int, data: str) -> int | None:
        """The newest bot message in the chat with an inline button carrying `data`."""
        for message_id, message in reversed(self.fake.messages.get(chat, {}).items()):
            if message["from"]["id"] == BOT_ID and data in callback_data_of(message):
                return int(message_id)
        return None

    def texts(self, chat: int) -> list[str]:
        """Every message text the bot sent to the chat (whatever the fake answered)."""
        calls = self.fake.calls
        while self._scanned < len(calls):
            call = calls[self._scanned]
            if call.method == "sendMessage" and isinstance(call.params.get("chat_id"), int):
                self._texts[call.params["chat_id"]].append(str(call.params.get("text", "")))
            self._scanned += 1
        return self._texts[chat]

    def references(self, chat: int) -> set[str]:
        """Every report reference the bot sent to the chat."""
        return {ref for text in self.texts(chat) for ref in REFERENCE.findall(text)}


def chat_of(update: JSON) -> int:
    """The chat an update comes from."""
    if "callback_query" in update:
        return int(update["callback_query"]["message"]["chat"]["id"])
    return int(update["message"]["chat"]["id"])


class Person:
    """Someone filling the noise report form, with a marker word in what they type."""

    def __init__(self, hub: Telegram, chat: int, marker: str, rng: random.Random) -> None:
        """A person who has not started yet."""
        self.hub = hub
        self.chat = chat
        self.marker = marker
        self.rng = rng
        self.steps = form(marker)
        self.what = next(i for i, (_kind, text) in enumerate(self.steps) if marker in text)
        self.next = 0  # the step to take next
        self.waiting: tuple[int, float] | None = None  # the step sent and not answered, and when
        self.pressed_send = False
        self.refilled = 0  # times the bot said the answers were lost and asked for them again
        self.started_over = 0  # times they began again from /start, a button they needed gone
        self.outcome = ""  # how they stopped without a reference, if they did

    def reference(self) -> bool:
        """Whether the bot has sent this person a reference."""
        return bool(self.hub.references(self.chat))

    async def fill(self, offset: float) -> None:
        """Start after `offset` seconds; fill in the form and press Send, or stop at the kill."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hub.stop.wait(), offset)
        while self.next < len(self.steps) and not self.hub.stop.is_set():
            if await self.step() != "ok":
                return
            await asyncio.sleep(self.rng.uniform(*THINK))

    async def step(self) -> str:
        """Take the next step, wait for the answer: ok, no button, refused, unanswered."""
        if self.hub.stop.is_set():
            return "stopped"
        kind, what = self.steps[self.next]
        fake = self.hub.fake
        if kind == "press":
            message_id = self.hub.button(self.chat, what)
            if message_id is None:
                return "no button"
            update = fake.user_press(self.chat, what, message_id=message_id, enqueue=False)
        else:
            update = fake.user_message(self.chat, what, language_code="en", enqueue=False)
        before = len(self.hub.replies.arrivals[self.chat])
        said = len(self.hub.texts(self.chat))
        self.waiting = (self.next, time.monotonic())
        self.pressed_send |= what == SEND
        status = await self.hub.deliver(update, send=what == SEND)
        if status != "200":
            return "refused"
        arrived = await first_reply(
            self.hub.replies, self.chat, before, self.hub.stop, REPLY_TIMEOUT
        )
        if arrived is None:
            return "unanswered"
        self.waiting = None
        if any(LOST_WORDS in text for text in self.hub.texts(self.chat)[said:]):
            # "what you typed ... was lost ... fill it in again": the form's first question
            # follows, so they type their answers again.
            self.refilled += 1
            self.next = self.what
        else:
            self.next += 1
        return "ok"

    async def carry_on(self) -> None:
        """After the restart, go on as a person would, unless a reference has come."""
        if self.reference():
            return
        if self.pressed_send:
            self.next = len(self.steps) - 1  # they pressed Send and got no reference: again
        elif self.waiting is not None:
            index, sent = self.waiting
            answered = any(at > sent for at in self.hub.replies.arrivals[self.chat])
            # Answered after all (redelivered): go on; else take that step again.
            self.next = index + 1 if answered else index
        self.waiting = None
        while self.next < len(self.steps) and not self.reference():
            if self.refilled + self.started_over > 2:
                self.outcome = "gave up after filling it in three times"
                return
            outcome = await self.step()
            if outcome == "no button":
                self.started_over += 1
                self.next = 0
            elif outcome != "ok":
                self.outcome = outcome
                return
            await asyncio.sleep(self.rng.uniform(*THINK))
        if not self.reference():
            last = self.hub.texts(self.chat)[-1:] or [""]
            self.outcome = (
                "told the report was already sent"
                if ALREADY_SENT_WORDS in last[0]
                else "Send answered without a reference"
            )


async def chatter(hub: Telegram, chat: int, until: float, rng: random.Random) -> None:
    """Someone sending ordinary messages, each once the last is answered, until `until`."""
    await asyncio.sleep(rng.uniform(0, CHAT_PACE))
    turn = 0
    while time.monotonic() < until and not hub.stop.is_set():
        began = time.monotonic()
        update = hub.fake.user_message(chat, OTHER_TEXTS[turn % len(OTHER_TEXTS)], enqueue=False)
        before = len(hub.replies.arrivals[chat])
        if await hub.deliver(update) != "200":
            return
        if await first_reply(hub.replies, chat, before, hub.stop, REPLY_TIMEOUT) is None:
            return
        turn += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hub.stop.wait(), max(0.0, began + CHAT_PACE - time.monotonic()))


@dataclass
class Trial:
    """What happened in one trial."""

    number: int
    kill_at: float
    posted: int = 0  # updates POSTed before the kill
    unanswered: int = 0  # of them, not answered 200: redelivered after the restart
    mid_form: int = 0  # people who had started and had no reference at the kill
    filled_again: int = 0  # people who typed their answers again after the restart


async def redeliver(hub: Telegram, pending: list[Delivery]) -> None:
    """POST again every update not answered 200, in order per chat, as Telegram would."""
    by_chat: defaultdict[int, list[Delivery]] = defaultdict(list)
    for delivery in sorted(pending, key=lambda d: d.update_id):
        by_chat[delivery.chat].append(delivery)

    async def chat(deliveries: list[Delivery]) -> None:
        """One chat's updates, one after the other."""
        for delivery in deliveries:
            for _ in range(REDELIVERIES):
                if await hub.again(delivery) == "200":
                    break
                await asyncio.sleep(0.5)

    await asyncio.gather(*(chat(d) for d in by_chat.values()))


async def trial(
    hub: Telegram, home: Path, number: int, people: int, chatters: int, kill_at: float, seed: int
) -> Trial:
    """Start the bot, load it, kill -9 it, restart it, redeliver, let people carry on, stop."""
    fake = hub.fake
    hub.trial = number
    result = Trial(number, kill_at)
    rng = random.Random(f"{seed}-trial{number}")  # when each one starts
    markers = [f"trial{number}person{p}" for p in range(people)]
    persons = [
        Person(hub, 700_000 + number * 100 + p, marker, random.Random(f"{seed}-{marker}"))
        for p, marker in enumerate(markers)
    ]
    hub.life += 1
    hub.stop = asyncio.Event()
    hub.bot = Bot(home, fake)
    await hub.bot.start()
    start = time.monotonic()
    tasks = [asyncio.ensure_future(p.fill(rng.uniform(0, START_SPREAD))) for p in persons]
    tasks += [
        asyncio.ensure_future(chatter(hub, 800_000 + number * 100 + c, start + BUSY[1], rng))
        for c in range(chatters)
    ]
    try:
        await asyncio.sleep(kill_at)
        if not hub.bot.alive():
            raise hub.bot.error("it exited before the kill")
        hub.bot.kill()
        hub.stop.set()
        await asyncio.gather(*tasks)  # POSTs in flight end with an error or their answer
    finally:
        for task in tasks:
            task.cancel()
        await hub.bot.stop()
    mine = [d for d in hub.deliveries if d.trial == number]
    result.posted = len(mine)
    pending = [d for d in mine if d.acked is None]
    result.unanswered = len(pending)
    result.mid_form = sum(1 for p in persons if p.next > 0 and not p.reference())
    hub.life += 1
    hub.stop = asyncio.Event()
    hub.bot = Bot(home, fake)
    await hub.bot.start()
    try:
        await redeliver(hub, pending)
        await quiet(fake)
        await asyncio.gather(*(p.carry_on() for p in persons))
        await quiet(fake)
    finally:
        await hub.bot.stop()
    result.filled_again = sum(1 for p in persons if p.refilled or p.started_over)
    hub.people.extend(persons)
    return result


@dataclass
class KillFigures:
    """The kill part's figures over all trials."""

    trials: list[Trial]
    seed: int
    deliveries: list[Delivery]
    people: list[Person]
    updates_lost: list[int] = field(default_factory=list)
    limited: int = 0  # updates the per-person limit would drop: left out
    reports: int = 0
    lost: list[str] = field(default_factory=list)  # markers
    lost_words: int = 0  # of them: a report with their reference exists, without their words
    duplicated: list[str] = field(default_factory=list)
    never_sent: list[str] = field(default_factory=list)  # references
    unmarked: int = 0  # reports carrying no person's marker


def rate_limited(deliveries: list[Delivery]) -> set[int]:
    """Updates the per-person limits would drop (bot.service.conversation's, per chat and life)."""
    times: defaultdict[tuple[int, int], list[tuple[float, int]]] = defaultdict(list)
    for d in deliveries:
        for life, status, at in d.answers:
            if status == "200":
                times[d.chat, life].append((at, d.update_id))
    dropped: set[int] = set()
    for found in times.values():
        limits = turn_limits()
        for at, update_id in sorted(found):
            if not limits.take("person", at):
                dropped.add(update_id)
    return dropped


def processed_keys(data_dir: Path) -> set[str]:
    """Every `processed.update_key` in the data directory's database."""
    with contextlib.closing(sqlite3.connect(data_dir / "bot.db")) as db:
        return {row[0] for row in db.execute("select update_key from processed")}


def export(home: Path, env: dict[str, str]) -> list[JSON]:
    """`bot reports export --format json` on the trials' data directory."""
    bot = Path(sys.executable).with_name("bot")
    command = [str(bot)] if bot.exists() else [sys.executable, "-m", "bot"]
    done = subprocess.run(
        [*command, "reports", "export", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise tg.BenchError(f"reports export failed: {done.stderr.decode(errors='replace')[-800:]}")
    rows = json.loads(done.stdout)
    if not isinstance(rows, list):
        raise tg.BenchError("reports export did not give a list")
    return rows


def check(hub: Telegram, home: Path, figures: KillFigures) -> None:
    """Compare what people were told and the bot acknowledged with what the bot kept."""
    data_dir = home / "data"
    secret = bytes.fromhex((data_dir / "secret.key").read_text().strip())
    keys = processed_keys(data_dir)
    dropped = rate_limited(hub.deliveries)
    figures.limited = sum(1 for d in hub.deliveries if d.update_id in dropped)
    for d in hub.deliveries:
        if d.acked is None or d.update_id in dropped:
            continue
        mac = hmac.new(secret, f"telegram:update:{d.update_id}".encode(), hashlib.sha256)
        if mac.hexdigest()[:32] not in keys:
            figures.updates_lost.append(d.update_id)
    _argv, env = bot_command(home, hub.fake, None, wb.free_port())  # the port goes unused
    rows = export(home, env)
    figures.reports = len(rows)
    by_marker: defaultdict[str, list[JSON]] = defaultdict(list)
    for row in rows:
        for marker in set(MARKER.findall(str(row.get("what", "")))):
            by_marker[marker].append(row)
    people = {p.marker: p for p in figures.people}
    every_reference = {ref for p in figures.people for ref in hub.references(p.chat)}
    for row in rows:
        reference = str(row.get("reference", ""))
        owners = [people[m] for m in set(MARKER.findall(str(row.get("what", "")))) if m in people]
        if not owners:
            figures.unmarked += 1
            if reference not in every_reference:
                figures.never_sent.append(reference)
        elif not any(reference in hub.references(p.chat) for p in owners):
            figures.never_sent.append(reference)
    filed = {str(row.get("reference", "")) for row in rows}
    for p in figures.people:
        pressed = any(d.send and d.acked is not None for d in hub.deliveries if d.chat == p.chat)
        told = hub.references(p.chat)
        if (pressed or told) and not by_marker.get(p.marker):
            figures.lost.append(p.marker)
            figures.lost_words += bool(told & filed)
    figures.duplicated = [m for m, found in by_marker.items() if len(found) > 1]


async def kill_part(work: Path, trials: int, people: int, chatters: int, seed: int) -> KillFigures:
    """K trials of kill -9 on one data directory and one fake Bot API; then the checks."""
    moments = random.Random(f"{seed}-kill")  # the kills' moments depend on the seed alone
    fake = tg.new_fake()
    await fake.start()
    hub = Telegram(fake)
    home = work / "kill"
    found: list[Trial] = []
    try:
        async with following(hub.replies):
            for number in range(1, trials + 1):
                print(f"kill: trial {number}/{trials}...", flush=True)
                kill_at = moments.uniform(*BUSY)
                found.append(await trial(hub, home, number, people, chatters, kill_at, seed))
    finally:
        await fake.stop()
    figures = KillFigures(found, seed, hub.deliveries, hub.people)
    check(hub, home, figures)
    return figures


def report_kill(f: KillFigures, people: int, chatters: int) -> None:
    """Print the kill part's table."""
    print(
        f"\nkill -9: {len(f.trials)} trial(s), seed {f.seed}; one data directory and one fake Bot "
        f"API throughout; per trial {people} people filing a report and {chatters} sending "
        "ordinary messages,\nkilled (bot and engine, one process group) at a random moment of "
        "the busy period, restarted, unanswered updates redelivered, people carrying on.\n"
    )
    head = (
        f"{'trial':>5}{'killed at s':>12}{'updates':>9}{'not 200':>9}{'mid-form':>10}"
        f"{'filled again':>14}"
    )
    print(head)
    print("-" * len(head))
    for t in f.trials:
        print(
            f"{t.number:>5}{t.kill_at:>12.2f}{t.posted:>9}{t.unanswered:>9}{t.mid_form:>10}"
            f"{t.filled_again:>14}"
        )
    print("(updates: POSTed before the kill; not 200: of them, redelivered after the restart;")
    print(" mid-form: people who had begun and had no reference when the bot was killed;")
    print(" filled again: people who typed their answers again after the restart)\n")
    updates = len(f.deliveries)
    first = sum(1 for d in f.deliveries if d.answers and d.answers[0][1] == "200")
    acked = sum(1 for d in f.deliveries if d.acked is not None)
    sends = [d for d in f.deliveries if d.send]
    told = sum(1 for p in f.people if p.reference())
    lines = [
        ("trials", str(len(f.trials)), None),
        ("updates POSTed", f"{updates} ({first} answered 200 at once, {acked} in the end)", None),
        ("Send presses", f"{len(sends)} ({sum(1 for d in sends if d.acked)} answered 200)", None),
        ("people who got a reference", f"{told} of {len(f.people)}", None),
        ("reports in the export", f"{f.reports} ({f.unmarked} without any person's marker)", None),
        ("left out: the rate limit drops", str(f.limited), None),
        ("updates lost (200, never run)", str(len(f.updates_lost)), len(f.updates_lost) == 0),
        ("reports lost", str(len(f.lost)), not f.lost),
        ("reports duplicated", str(len(f.duplicated)), not f.duplicated),
        ("references never sent", str(len(f.never_sent)), not f.never_sent),
    ]
    for label, value, ok in lines:
        target = "" if ok is None else f"  target 0  {VERDICT[ok]}"
        print(f"{label:34}{value}{target}")
    if f.lost_words:
        print(
            f"  of the reports lost, {f.lost_words} have a report under the reference the "
            "person got, without their words (the draft was gone after the kill)"
        )
    outcomes = Counter(p.outcome for p in f.people if p.outcome and not p.reference())
    if outcomes:
        shown = ", ".join(f"{n} x {what}" for what, n in outcomes.most_common())
        print(f"  people left without a reference, by their last step: {shown}")


# --------------------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> bool:
    """Run the parts asked for; True when all of them could be measured."""
    parts = ("memory", "flood", "kill") if args.part == "all" else (args.part,)
    quick = args.quick
    print(machine())
    print(f"seed {args.seed}", flush=True)
    clean = True
    with tempfile.TemporaryDirectory(prefix="fault-bench-") as tmp:
        work = Path(tmp)
        for part in parts:
            began = time.monotonic()
            try:
                if part == "memory":
                    size = 20_000_000 if quick else STREAM_BYTES
                    report_memory(await memory_part(work, size))
                elif part == "flood":
                    people, messages = (10, 300) if quick else (OTHERS, FLOOD)
                    seconds = 8.0 if quick else args.seconds
                    rounds = 1 if quick else args.rounds
                    rng = random.Random(f"{args.seed}-flood")
                    found = await flood_part(work, rounds, seconds, people, messages, rng)
                    report_flood(found, seconds, people, messages)
                else:
                    trials = 2 if quick else args.trials
                    people, chatters = (5, 5) if quick else (PEOPLE, CHATTERS)
                    figures = await kill_part(work, trials, people, chatters, args.seed)
                    report_kill(figures, people, chatters)
            except tg.BenchError as exc:
                clean = False
                print(f"\n{part}: could not measure: {exc}", file=sys.stderr)
            print(f"({part} took {time.monotonic() - began:.0f} s)\n", flush=True)
    return clean


def main() -> int:
    """Parse the options, run, and exit 0 when every part was measured, 2 if not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=("memory", "flood", "kill", "all"), default="all")
    parser.add_argument(
        "--trials", type=int, default=TRIALS, help=f"kill trials (default {TRIALS})"
    )
    parser.add_argument("--rounds", type=int, default=2, help="flood rounds (default 2)")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="length of each flood phase (default 20)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the time)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of every part")
    args = parser.parse_args()
    if args.trials < 1 or args.rounds < 1 or args.seconds < 2 * PACE:
        parser.error(f"--trials and --rounds must be at least 1, --seconds at least {2 * PACE}")
    if args.seed is None:
        args.seed = int(time.time()) % 1_000_000
    try:
        return 0 if asyncio.run(run(args)) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
