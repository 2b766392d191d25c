"""Telegram throughput and latency: `bot run` beside a bare python-telegram-bot echo bot.

Run: .venv/bin/python bench/telegram_bench.py [--users 50] [--messages 20] [--rounds 3] [--quick]
Targets: `bot run` answers at least 0.9x as many messages a second as the echo bot (the ceiling a
PTB bot reaches on this machine), and its p99 latency is at most 1.2x the echo bot's.

The bots run as subprocesses, in turns (echo, ours, echo-aio, then the other way round: a slow
spell of the machine hits all alike), each run polling its own fresh fake Bot API server
(tests/fake_telegram.py, on 127.0.0.1 in this process; nothing goes online). Each bot's figures
are its median run. `bot run` sends through aiohttp (bot/channels/telegram/http.py) rather
than PTB's default httpx; echo-aio, the echo bot on that same transport, is measured for
information only: it shows what the assistant's own work costs, transport aside.

The load is a closed loop: every simulated user (its own private chat) sends its messages one
after another, each one only once the bot's first reply to the previous one has arrived; all users
run at once. Latency is the time from queueing a user's update to the arrival of the bot's first
sendMessage answering it; throughput is messages answered over the time from the first update
queued to the last reply. `bot run` may answer one message with several; a calibration pass (one
chat per script, pausing until the bot is quiet after each message, uncounted, and also the
warm-up) learns how many, so each first reply is matched to the right message. Every bot gets the
same texts: /start (with a language_code, so no language question), then questions typed in seven
languages and commands. The default load (three rounds) takes about three minutes on a 2-core
machine; --quick (10 users x 5 messages, one round) is a smoke run. Exit status: 0 when every
target is met, 1 when one is missed, 2 when a bot could not be measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:BENCH"
THROUGHPUT_TARGET = 0.9  # ours/echo messages per second, at least
P99_TARGET = 1.2  # ours/echo p99 latency, at most
READY_TIMEOUT = 60.0  # seconds for a bot to start polling
STEP_TIMEOUT = 30.0  # seconds for one reply under load
QUIET = 0.3  # calibration: the bot has finished answering after this long without a message
STOP_TIMEOUT = 15.0  # seconds for a graceful shutdown before the bot is killed
USER_CHATS = 100_000  # measured users' chat ids start here
CALIBRATION_CHATS = 900_000  # calibration chats, never measured
ECHO_AIOHTTP = "echo-aio"  # the echo bot on `bot run`'s aiohttp transport: for information
_T = TypeVar("_T")

# A bare PTB echo bot, run as its own process like `bot run`: the ceiling for this machine.
ECHO_BOT = '''\
"""A bare python-telegram-bot echo bot, polling the benchmark's fake Bot API."""

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


builder = (
    ApplicationBuilder()
    .token(os.environ["TELEGRAM_BOT_TOKEN"])
    .base_url(os.environ["ECHO_BASE_URL"])
    .concurrent_updates(True)
)
if os.environ.get("ECHO_AIOHTTP"):
    # The same transport as `bot run`, to show what the bot's own work costs beside it.
    from bot.channels.telegram.http import AiohttpRequest

    builder = builder.request(AiohttpRequest(connection_pool_size=16))
    builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
app = builder.build()
app.add_handler(MessageHandler(filters.TEXT, echo))
app.run_polling(allowed_updates=["message"], timeout=30, poll_interval=0.0)
'''

# Sets PR_SET_PDEATHSIG (Linux), so a bot dies with the benchmark even if it is killed outright,
# then becomes the bot (same pid) with execv.
LAUNCHER = """\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
except (OSError, AttributeError):
    pass
os.execv(sys.argv[1], sys.argv[1:])
"""

# What residents type, by language; every script starts with /start (with the language_code)
# so no language question is asked, and mixes in commands.
TEXTS: dict[str, tuple[str, ...]] = {
    "en": (
        "noisy neighbours every night",
        "tips to keep my bike safe",
        "my son is carrying drugs for older boys",
        "someone dumped a mattress and sofa outside my block",
        "scam call bank said move my money",
        "graffiti all over the wall on our street",
    ),
    "fr": (
        "mon mari me frappe",
        "des gens boivent dans la rue et crient tous les soirs",
        "jai trouve un couteau dans le sac de mon fils",
        "jai paye sur un site et jai rien recu arnaque",
        "insulte raciste dans le bus",
        "mon fils 17 ans fait rien ni ecole ni travail",
    ),
    "ar": (
        "ابني يتعاطى مخدرات",
        "ناس سكرانين قاعدين قدام المحل كل يوم",
        "ابني ١٧ سنة لا مدرسة ولا شغل",
        "بلغت ٣ مرات وما حدا عمل شي",
        "اولاد الجيران دايما لحالهم وجوعانين",
        "بدي احضر اجتماع الشرطة بالحي",
    ),
    "es": (
        "encontre un cuchillo en la mochila de mi hijo",
        "grafitis en toda la pared de mi calle",
        "estafa me llamaron del banco para mover mi dinero",
        "mi hijo de 18 no estudia ni trabaja",
        "vivo en un piso del council y el vecino no me deja vivir",
        "como mantener mi bici segura",
    ),
    "pt": (
        "meu ex fica me perseguindo e mandando mensagem o dia todo",
        "jogaram lixo e um sofa na calcada",
        "roubaram meu celular na rua",
        "meu filho foi preso ontem o que eu faco",
        "golpe ligaram dizendo que era do banco pra eu transferir meu dinheiro",
        "quero as imagens da camera da rua",
    ),
    "so": (
        "wiilkayga wuxuu ku jiraa gang",
        "dad dawarsanaya tesco hortiisa",
        "urta weed ayaa jaranjarada ka timaada",
        "guriga waxaa la jabsaday todobaadkii hore",
        "hawlaha dhalinyarada fasaxa kubada cagta",
        "sidee u sheegaa dambi magacayga la'aan",
    ),
    "fa": (
        "همسایه هر شب تا صبح آهنگ بلند میذاره",
        "تو پارک جوونا مزاحم مردم میشن",
        "جلوی ساختمون مواد میفروشن",
        "گوشیمو تو خیابون قاپ زدن",
        "فیلم دوربین مداربسته خیابون رو میخوام",
        "یه مرد غریبه تو اینستا با دخترم دوست شده براش هدیه میخره",
    ),
}
COMMANDS = ("/help", "/privacy")


@dataclass(frozen=True)
class Script:
    """What one kind of user sends, in order, and the language their Telegram app reports."""

    lang: str
    texts: tuple[str, ...]


def scripts(messages: int) -> list[Script]:
    """One script per language: /start, then typed questions with a command every third turn."""
    found = []
    for lang, typed in TEXTS.items():
        turns = ["/start"]
        questions = commands = 0
        while len(turns) < messages:
            if len(turns) % 3 == 0:
                turns.append(COMMANDS[commands % len(COMMANDS)])
                commands += 1
            else:
                turns.append(typed[questions % len(typed)])
                questions += 1
        found.append(Script(lang, tuple(turns[:messages])))
    return found


@dataclass
class Result:
    """One bot's figures."""

    name: str
    messages: int  # each user's
    answered: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds
    sends: int = 0  # every sendMessage in the measured chats, extra replies included
    mismatched: int = 0  # chats whose reply count differed from calibration
    failed: int = 0  # sendMessage calls the fake refused
    bot_cpu: float | None = None  # seconds of the bot process's CPU during the load
    engine_cpu: float | None = None  # seconds of its child processes' CPU (`bot run`'s engine)
    bench_cpu: float = 0.0  # seconds of this process's CPU (fake server + users) during the load

    @property
    def rate(self) -> float:
        """Messages answered a second."""
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: int) -> float:
        """The p-th percentile latency in milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    def per_message(self, seconds: float | None) -> str:
        """CPU milliseconds per message answered, for the table."""
        if seconds is None or not self.answered:
            return "-"
        return f"{seconds * 1000 / self.answered:.2f}"


class BenchError(RuntimeError):
    """A bot could not be measured (it died, hung or answered wrongly)."""


class Replies:
    """The arrival time of every sendMessage, per chat, read from the fake's call log."""

    def __init__(self, fake: FakeTelegram) -> None:
        """Follow `fake.calls` from the start."""
        self.fake = fake
        self.arrivals: defaultdict[int, list[float]] = defaultdict(list)
        self.failed: defaultdict[int, int] = defaultdict(int)
        self._seen = 0
        self._waiters: defaultdict[int, list[tuple[int, asyncio.Future[float]]]] = defaultdict(list)

    async def follow(self) -> None:
        """Scan new calls whenever the fake answers one; runs until cancelled."""
        while True:
            with contextlib.suppress(AssertionError):
                await self.fake.wait_for(lambda: len(self.fake.calls) > self._seen, 3600)
            self._scan()

    def _scan(self) -> None:
        """Note the new sendMessage calls and wake whoever waits for them."""
        calls = self.fake.calls
        while self._seen < len(calls):
            call = calls[self._seen]
            chat = call.params.get("chat_id")
            if call.method == "sendMessage" and isinstance(chat, int):
                if call.status == 0:
                    return  # still being answered (only with fake.delay): look again later
                if call.status == 200:
                    self._arrived(chat, call.at)
                else:
                    self.failed[chat] += 1
            self._seen += 1

    def _arrived(self, chat: int, at: float) -> None:
        """Record one reply and resolve the waits it satisfies."""
        arrivals = self.arrivals[chat]
        arrivals.append(at)
        waiting = self._waiters.get(chat, [])
        for index, future in list(waiting):
            if future.done():
                waiting.remove((index, future))
            elif index < len(arrivals):
                future.set_result(arrivals[index])
                waiting.remove((index, future))

    async def nth(self, chat: int, index: int, timeout: float = STEP_TIMEOUT) -> float:
        """When the chat's reply number `index` (from 0) arrived, waiting for it if need be."""
        arrivals = self.arrivals[chat]
        if index < len(arrivals):
            return arrivals[index]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[chat].append((index, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise BenchError(
                f"no reply number {index + 1} in chat {chat} within {timeout:.0f}s "
                f"(it has {len(arrivals)}, and {self.failed[chat]} refused)"
            ) from None


def new_fake() -> FakeTelegram:
    """A fake Bot API server (not started) from the tests."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fake_telegram import FakeTelegram

    return FakeTelegram(TOKEN)


def base_env(data_dir: Path) -> dict[str, str]:
    """The environment both bots get: no proxy for 127.0.0.1, no PTB deprecation warning."""
    env = dict(os.environ)
    env.update(
        PTB_TIMEDELTA="1",  # PTB warns about int retry_after without it
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        BOT_DATA_DIR=str(data_dir),
        TELEGRAM_BOT_TOKEN=TOKEN,
    )
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_argv(name: str, work: Path, fake: FakeTelegram) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one bot."""
    env = base_env(work / "data")
    if name.startswith("echo"):
        script = work / "echo_bot.py"
        script.write_text(ECHO_BOT, encoding="utf-8")
        env["ECHO_BASE_URL"] = fake.base_url
        if name == ECHO_AIOHTTP:
            env["ECHO_AIOHTTP"] = "1"
        return [sys.executable, str(script)], env
    env.update(
        HOST="127.0.0.1",
        PORT=str(free_port()),  # its health check; nothing else listens
        TELEGRAM_API_URL=fake.url,
        TELEGRAM_MAX_RATE="0",  # the fake has no flood limit: compare like with like
        TELEGRAM_WEBHOOK_URL="",  # polling, like the echo bot
        STAFF_CHAT_ID="",
        WHATSAPP_TOKEN="",
    )
    bot = Path(sys.executable).with_name("bot")
    command = [str(bot)] if bot.exists() else [sys.executable, "-m", "bot"]
    return [*command, "run"], env


def launch(
    argv: list[str], env: dict[str, str], cwd: Path, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start a bot in its own session, output to `log`, tied to this process's life."""
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *argv],
        cwd=cwd,  # no .env file there
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def cancel(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Stop background tasks (reply followers) and wait until each has."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM, wait for a graceful exit, else SIGKILL; True when it exited by itself."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        return proc.poll() is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far (Linux /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu(pid: int) -> float | None:
    """CPU time so far of a process's running children (Linux /proc); None if it has none."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    if not children:  # the echo bots
        return None
    times = [cpu_seconds(int(child)) for child in children]
    return sum(t for t in times if t is not None)


def own_cpu() -> float:
    """User plus system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def guarded(proc: subprocess.Popen[bytes], work: Awaitable[_T]) -> _T:
    """Await work, but fail at once if the bot process exits meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            if proc.poll() is not None:
                raise BenchError(f"the bot exited with status {proc.returncode}")
            await asyncio.wait({task}, timeout=0.2)
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, BenchError):
                await task


async def ready(fake: FakeTelegram) -> None:
    """Wait for the bot's first getUpdates call: it is polling."""
    while not any(call.method == "getUpdates" for call in fake.calls):
        await asyncio.sleep(0.05)


async def calibrate(fake: FakeTelegram, replies: Replies, kinds: list[Script]) -> list[list[int]]:
    """How many messages the bot sends for each turn of each script (also the warm-up)."""

    async def one(chat: int, script: Script) -> list[int]:
        """Send a script in one chat, waiting for quiet after each turn; replies per turn."""
        counts = []
        for text in script.texts:
            before = len(replies.arrivals[chat])
            fake.user_message(chat, text, language_code=script.lang)
            await replies.nth(chat, before)
            seen = -1
            while seen != len(replies.arrivals[chat]):
                seen = len(replies.arrivals[chat])
                await asyncio.sleep(QUIET)
            counts.append(seen - before)
        return counts

    chats = [CALIBRATION_CHATS + i for i in range(len(kinds))]
    return list(await asyncio.gather(*(one(c, s) for c, s in zip(chats, kinds, strict=True))))


async def load(
    fake: FakeTelegram,
    replies: Replies,
    kinds: list[Script],
    counts: list[list[int]],
    users: int,
    result: Result,
) -> tuple[float, dict[int, int]]:
    """Every user sends their script, closed loop; the first enqueue time and replies expected."""
    expected: dict[int, int] = {}
    first: list[float] = []

    async def user(chat: int, script: Script, replies_per_turn: list[int]) -> None:
        """One resident: each turn waits for the first reply to the one before."""
        index = 0
        for text, n in zip(script.texts, replies_per_turn, strict=True):
            queued = time.monotonic()
            if not first:
                first.append(queued)
            fake.user_message(chat, text, language_code=script.lang)
            result.latencies.append(await replies.nth(chat, index) - queued)
            result.answered += 1
            index += n

    jobs = []
    for u in range(users):
        chat, kind = USER_CHATS + u, u % len(kinds)
        expected[chat] = sum(counts[kind])
        jobs.append(user(chat, kinds[kind], counts[kind]))
    await asyncio.gather(*jobs)
    return first[0], expected


async def drive(
    proc: subprocess.Popen[bytes], fake: FakeTelegram, replies: Replies, users: int, result: Result
) -> None:
    """Wait until the bot polls, calibrate, then load it and fill in `result`."""
    kinds = scripts(result.messages)
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await guarded(proc, ready(fake))
    except TimeoutError:
        raise BenchError(f"no getUpdates call within {READY_TIMEOUT:.0f}s") from None
    counts = await guarded(proc, calibrate(fake, replies, kinds))
    cpu_before, bench_before = cpu_seconds(proc.pid), own_cpu()
    engine_before = children_cpu(proc.pid)
    start, expected = await guarded(proc, load(fake, replies, kinds, counts, users, result))
    ends = [await guarded(proc, replies.nth(chat, n - 1)) for chat, n in expected.items()]
    cpu_after, bench_after = cpu_seconds(proc.pid), own_cpu()
    engine_after = children_cpu(proc.pid)
    result.seconds = max(ends) - start
    if cpu_before is not None and cpu_after is not None:
        result.bot_cpu = cpu_after - cpu_before
    if engine_before is not None and engine_after is not None:
        result.engine_cpu = engine_after - engine_before
    result.bench_cpu = bench_after - bench_before
    await asyncio.sleep(QUIET)  # a reply beyond the calibrated ones would show up now
    result.sends = sum(len(replies.arrivals[chat]) for chat in expected)
    result.failed = sum(replies.failed[chat] for chat in expected)
    result.mismatched = sum(len(replies.arrivals[c]) != n for c, n in expected.items())


async def measure(name: str, users: int, messages: int, work: Path) -> Result:
    """Start one bot against a fresh fake, measure it, stop it (whatever happens); its figures."""
    result = Result(name, messages)
    home = work / name
    home.mkdir()
    log_path = home / "bot.log"
    fake = new_fake()
    await fake.start()
    replies = Replies(fake)
    follower = asyncio.create_task(replies.follow())
    proc: subprocess.Popen[bytes] | None = None
    try:
        argv, env = bot_argv(name, home, fake)
        with log_path.open("wb") as log:
            proc = launch(argv, env, home, log)
            try:
                await drive(proc, fake, replies, users, result)
            finally:
                if not await stop(proc):  # the fake must still be up for a graceful stop
                    print(f"warning: {name} did not stop within {STOP_TIMEOUT:.0f}s; killed")
    except BenchError as exc:
        raise BenchError(f"{name}: {exc}\n{tail(log_path)}") from None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        await cancel([follower])
        await fake.stop()
    return result


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a bot's output, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(f"  | {line}" for line in text.splitlines()[-lines:])


def median_run(runs: list[Result]) -> Result:
    """The run with the median throughput (the middle one of an odd number)."""
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def row(label: str, r: Result) -> str:
    """One line of the table."""
    sends = r.sends / r.answered if r.answered else 0.0
    return (
        f"{label:12}{r.answered:>9}{r.seconds:>9.2f}{r.rate:>8.1f}{r.percentile(50):>8.1f}"
        f"{r.percentile(99):>8.1f}{sends:>10.2f}{r.per_message(r.bot_cpu):>16}"
        f"{r.per_message(r.engine_cpu):>19}"
        f"{r.per_message(r.bench_cpu):>17}"
    )


def report(runs: dict[str, list[Result]], users: int, messages: int) -> bool:
    """Print every run, the medians and the ratios; True when every target is met."""
    print(
        f"\n{users} users x {messages} messages each, closed loop; both bots poll a fresh fake Bot "
        "API on 127.0.0.1.\n`bot run` had TELEGRAM_MAX_RATE=0: the fake has no 30 msg/s flood "
        "limit, so the overall rate limiter is off, as in the echo bot.\n"
    )
    head = (
        f"{'run':12}{'answered':>9}{'seconds':>9}{'msg/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'sends/msg':>10}{'bot CPU ms/msg':>16}{'engine CPU ms/msg':>19}"
        f"{'fake CPU ms/msg':>17}"
    )
    print(head)
    print("-" * len(head))
    for name, results in runs.items():
        for i, r in enumerate(results, 1):
            print(row(f"{name} #{i}", r))
    print("-" * len(head))
    medians = {name: median_run(results) for name, results in runs.items()}
    for name, r in medians.items():
        print(row(f"{name} med", r))
    print(
        "(bot CPU: the bot's main process; engine CPU: `bot run`'s engine process; fake CPU: this "
        "process, the fake server and the simulated users together; 'med' is each bot's run "
        "with the median throughput)"
    )
    echo, ours = medians["echo"], medians["ours"]
    throughput = ours.rate / echo.rate if echo.rate else 0.0
    echo_p99 = statistics.median(r.percentile(99) for r in runs["echo"])
    ours_p99 = statistics.median(r.percentile(99) for r in runs["ours"])
    p99 = ours_p99 / echo_p99 if echo_p99 else float("inf")
    ok_rate, ok_p99 = throughput >= THROUGHPUT_TARGET, p99 <= P99_TARGET
    verdict = {True: "met", False: "MISSED"}
    print(
        f"\nours/echo throughput  {throughput:.2f}x  (median runs; target >= "
        f"{THROUGHPUT_TARGET}x)  {verdict[ok_rate]}\n"
        f"ours/echo p99 latency {p99:.2f}x  (median p99s: {ours_p99:.0f} / "
        f"{echo_p99:.0f} ms; target <= {P99_TARGET}x)  {verdict[ok_p99]}"
    )
    same = medians[ECHO_AIOHTTP]
    same_p99 = statistics.median(r.percentile(99) for r in runs[ECHO_AIOHTTP])
    print(
        f"for information, beside the echo bot on the same aiohttp transport: throughput "
        f"{ours.rate / same.rate if same.rate else 0.0:.2f}x, p99 latency "
        f"{ours_p99 / same_p99 if same_p99 else float('inf'):.2f}x"
    )
    clean = True
    for name, results in runs.items():
        for i, r in enumerate(results, 1):
            if r.mismatched or r.failed:
                clean = False
                print(
                    f"{name} #{i}: {r.mismatched} chat(s) got another number of replies than "
                    f"calibrated (latencies may be matched wrongly); {r.failed} sendMessage "
                    "call(s) refused"
                )
    met = ok_rate and ok_p99 and clean
    print("all targets met" if met else "some targets missed")
    return met


async def run(users: int, messages: int, rounds: int) -> bool:
    """Measure the bots in turns (echo, ours, echo-aio, then the other way round, ...); report."""
    names = ("echo", "ours", ECHO_AIOHTTP)
    runs: dict[str, list[Result]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="telegram-bench-") as tmp:
        for i in range(rounds):
            # Alternate which goes first, so a slow spell on the machine hits both alike.
            for name in names if i % 2 == 0 else names[::-1]:
                print(f"round {i + 1}/{rounds}: measuring {name}...", flush=True)
                work = Path(tmp) / f"{i}"
                work.mkdir(exist_ok=True)
                runs[name].append(await measure(name, users, messages, work))
        return report(runs, users, messages)


def main() -> int:
    """Parse the options, run, and exit 0 when the targets are met, 1 if not, 2 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    parser.add_argument("--messages", type=int, default=20, help="messages each (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each bot (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="10 users x 5 messages, one round: a smoke run"
    )
    args = parser.parse_args()
    users, messages = (10, 5) if args.quick else (args.users, args.messages)
    rounds = 1 if args.quick else args.rounds
    if users < 1 or messages < 1 or rounds < 1:
        parser.error("--users, --messages and --rounds must be at least 1")
    try:
        return 0 if asyncio.run(run(users, messages, rounds)) else 1
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
