"""Start-up: a cold `bot search`, and `bot run` answering its first message.

Run: .venv/bin/python bench/startup_bench.py [--rounds 5]
Targets: a cold `bot search` (model cached) at most 3 times the import of the libraries it
uses; `bot run` (polling, against the fake Bot API of tests/fake_telegram.py on 127.0.0.1)
sends its first answer within a second of being started. A "/start" waits at the fake before
the process starts, so the figure is the whole start: imports, content, the engine's process,
the first getUpdates and the reply. Each figure is the median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import telegram_bench as tg

BOT = [sys.executable, "-m", "bot"]
# What `bot search` needs beyond the standard library: the model's and the content's libraries.
LIBRARIES = (
    "import numpy, scipy.sparse, scipy.special, sklearn.calibration, sklearn.svm, "
    "sklearn.linear_model, sklearn.feature_extraction.text, yaml, rapidfuzz, babel"
)


def timed(argv: list[str]) -> float:
    """Seconds one command takes, its output thrown away."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=tg.ROOT)
    return time.perf_counter() - start


async def first_answer(work: Path) -> float:
    """Seconds from starting `bot run` to its first reply reaching the fake Bot API."""
    fake = tg.new_fake()
    async with fake:
        fake.user_message(1, "/start")  # waiting before the bot is there
        argv, env = tg.bot_argv("ours", work, fake)
        with (work / "bot.log").open("wb") as log:
            start = time.perf_counter()
            proc = tg.launch(argv, env, work, log)
            try:
                await fake.wait_for(lambda: len(fake.sent(1)) >= 1, timeout=30)
                return time.perf_counter() - start
            finally:
                await tg.stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    timed([*BOT, "search", "warm the cache"])  # the model trained once, as after a build
    imports = statistics.median(
        timed([sys.executable, "-c", LIBRARIES]) for _ in range(args.rounds)
    )
    search = statistics.median(
        timed([*BOT, "search", "noisy neighbours"]) for _ in range(args.rounds)
    )
    answers = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            answers.append(asyncio.run(first_answer(Path(tmp))))
    answer = statistics.median(answers)
    print(f"import of the libraries `bot search` uses: {imports:.2f} s")
    print(f"cold `bot search`, model cached: {search:.2f} s ({search / imports:.1f}x the import)")
    print(f"`bot run` to its first answer: {answer:.2f} s (fastest {min(answers):.2f} s)")
    met = search <= 3 * imports and answer <= 1.0
    print("all targets met" if met else "some targets missed")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
