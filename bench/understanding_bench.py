"""How well the assistant understands what people type, measured on messages it never learned from.

Run: .venv/bin/python bench/understanding_bench.py [--verbose] [--no-cv] [--testset DIR]

1. A blind test set (default bench/heldout16/<lang>.yaml), written apart from the training
   examples by a writer given only directory.yaml, situations.yaml and the product description,
   who never saw the examples, the old word lists or the other test sets (bench/devset and
   bench/heldout3 to bench/heldout15, whose misses were read while building, and bench/heldout
   and bench/heldout2, kept for comparison). Per language: the right service first and in the
   top 3 (for a question with no service expected, a tips screen), services offered that must
   not be (a perpetrators' line to a victim), danger now caught (the 999 card, or the question
   "Is someone in danger right now?"), harmless-but-alarming and ordinary messages that raised
   the 999 card, commands.
2. Cross-validated figures on the examples themselves (5 folds): situation accuracy, the top 3
   services, danger now caught and false alarms.
3. Engine time per message (p50, p99) and a cold `bot search` (model cached, and trained anew).

Targets on the test set: top-3 >= 95% in every language, first >= 85%; danger now 100% caught;
at most 3% of harmless-but-alarming and of ordinary questions raise the 999 card; engine p99
<= 10 ms. Never tune to the test set: if you read its misses, write a fresh one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.model_selection import StratifiedKFold

from bot.content.corpus import load_examples
from bot.content.i18n import LANGS
from bot.content.loader import load_content
from bot.core.engine import Engine
from bot.core.types import Inbound, Session
from bot.understanding.model import Model
from bot.understanding.reader import Danger, Understanding, load_understanding
from bot.understanding.rules import DangerRules

ROOT = Path(__file__).resolve().parent.parent


def pct(a: int, n: int) -> str:
    """A share as a percentage, or a dash when there is nothing to count."""
    return f"{a / n:6.1%}" if n else "     -"


def test_set(u: Understanding, folder: Path, verbose: bool) -> bool:
    """Print the blind test set's figures per language; True when every target is met."""
    ok = True
    head = f"{'lang':5}{'n':>4}{'top-1':>8}{'top-3':>8}{'wrong':>7}{'asked':>7}{'999':>6}"
    print(head + f"{'danger':>9}{'card':>7}{'harm':>6}{'999':>6}{'ask':>6}{'cmd':>7}")
    totals: dict[str, int] = defaultdict(int)
    for lang in LANGS:
        path = folder / f"{lang}.yaml"
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        c: dict[str, int] = defaultdict(int)
        for item in data.get("questions") or []:
            r = u.read(str(item["q"]))
            ids = [h.id for h in r.hits]
            expect, wrong = set(item.get("expect") or []), set(item.get("not") or [])
            c["q"] += 1
            if not expect:  # a staying-safe question: answered by a tips screen, no service
                tips = [sid.startswith("tips.") for sid, _p in r.situations[:3]]
                c["top1"] += bool(tips[:1] and tips[0])
                c["top3"] += any(tips)
                if verbose and not any(tips):
                    print(f"  miss [{lang}] {item['q']!r}: {r.situations[:3]} want tips")
                continue
            c["top1"] += bool(ids[:1] and ids[0] in expect)
            c["top3"] += bool(expect & set(ids))
            c["wrong"] += bool(wrong & set(ids))
            c["asked"] += r.ask is not None or r.danger is Danger.MAYBE
            c["q999"] += r.danger is Danger.YES
            if verbose and not expect & set(ids):
                print(f"  miss [{lang}] {item['q']!r}: {ids} want {sorted(expect)}")
            if verbose and wrong & set(ids):
                print(f"  WRONG [{lang}] {item['q']!r}: {ids}")
        for text in data.get("danger") or []:
            r = u.read(str(text))
            c["d"] += 1
            c["card"] += r.danger is Danger.YES
            c["caught"] += r.danger is not Danger.NO
            if verbose and r.danger is not Danger.YES:
                print(f"  danger [{lang}] {r.danger.value}: {text!r}")
        for text in data.get("harmless") or []:
            r = u.read(str(text))
            c["h"] += 1
            c["h999"] += r.danger is Danger.YES
            c["hask"] += r.danger is Danger.MAYBE
            if verbose and r.danger is not Danger.NO:
                print(f"  alarm [{lang}] {r.danger.value}: {text!r}")
        for item in data.get("commands") or []:
            r = u.read(str(item["q"]))
            c["c"] += 1
            c["cmd"] += r.command == item["expect"]
            if verbose and r.command != item["expect"]:
                print(f"  command [{lang}] {item['q']!r}: {r.command} want {item['expect']}")
        for k, v in c.items():
            totals[k] += v
        ok &= _row(lang, c)
    ok &= _row("all", totals)
    return ok


def _row(lang: str, c: dict[str, int]) -> bool:
    q, d, h = c["q"], c["d"], c["h"]
    print(
        f"{lang:5}{q:>4}{pct(c['top1'], q):>8}{pct(c['top3'], q):>8}{c['wrong']:>7}"
        f"{pct(c['asked'], q):>7}{pct(c['q999'], q):>6}"
        f"{c['caught']:>5}/{d:<3}{c['card']:>6}{h:>5}{pct(c['h999'], h):>7}{pct(c['hask'], h):>6}"
        f"{c['cmd']:>4}/{c['c']:<3}"
    )
    return bool(
        q
        and c["top3"] / q >= 0.95
        and c["top1"] / q >= 0.85
        and c["wrong"] == 0
        and c["caught"] == d
        and (not h or c["h999"] / h <= 0.03)
        and c["q999"] / q <= 0.03
    )


def cross_validate(content: Any, folds: int = 5) -> None:
    """Train on four fifths of the examples, read the rest; print per language."""
    examples = [e for e in load_examples(content.locales) if e.situation in content.situations]
    labels = np.array([e.situation for e in examples])
    split = StratifiedKFold(folds, shuffle=True, random_state=0)
    c: dict[tuple[str, str], int] = defaultdict(int)
    start = time.perf_counter()
    for train, held in split.split(np.zeros(len(labels)), labels):
        model = Model([examples[i] for i in train], content.situations)
        rules = DangerRules(content.danger_words)
        u = Understanding(content.directory, content.situations, model, rules)
        probs, danger = model.predict([examples[i].text for i in held])
        for row, i in enumerate(held):
            ex = examples[i]
            s = content.situations[ex.situation]
            r = u._reading(ex.text, probs[row], float(danger[row]))
            lang = ex.lang
            c[(lang, "n")] += 1
            c[(lang, "sit")] += r.situations[0][0] == ex.situation
            if s.services:
                ids = {h.id for h in r.hits}
                c[(lang, "svc")] += 1
                c[(lang, "top3")] += bool(ids & set(s.services))
            if s.danger:
                c[(lang, "d")] += 1
                c[(lang, "card")] += r.danger is Danger.YES
                c[(lang, "caught")] += r.danger is not Danger.NO
            else:
                c[(lang, "o")] += 1
                c[(lang, "o999")] += r.danger is Danger.YES
            if s.command:
                c[(lang, "c")] += 1
                c[(lang, "cmd")] += r.command == s.command
    took = time.perf_counter() - start
    print(f"\ncross-validated on the examples ({folds} folds, {took:.0f} s):")
    print(f"{'lang':5}{'n':>6}{'situation':>11}{'top-3':>8}{'danger':>14}{'card':>7}{'999':>7}")
    for lang in [*LANGS, "all"]:
        keys = LANGS if lang == "all" else (lang,)

        def n(k: str, keys: tuple[str, ...] = keys) -> int:
            return sum(c[(x, k)] for x in keys)

        if not n("n"):
            continue
        print(
            f"{lang:5}{n('n'):>6}{pct(n('sit'), n('n')):>11}{pct(n('top3'), n('svc')):>8}"
            f"{n('caught'):>8}/{n('d'):<5}{pct(n('card'), n('d')):>7}{pct(n('o999'), n('o')):>7}"
        )


def timing(content: Any, folder: Path) -> float:
    """Engine time per message over the test set's messages; returns the p99 in ms."""
    engine = Engine(content)
    engine.warm()
    texts = []
    for lang in LANGS:
        path = folder / f"{lang}.yaml"
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            texts += [(lang, str(i["q"])) for i in data.get("questions") or []]
            texts += [
                (lang, str(t)) for t in (data.get("danger") or []) + (data.get("harmless") or [])
            ]
    times = []
    for _round in range(3):
        for lang, text in texts:
            session = replace(Session(), lang=lang)
            start = time.perf_counter()
            engine.handle(session, Inbound.message(text))
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[int(len(times) * 0.99)]
    print(f"\nengine time over {len(times)} messages: p50 {statistics.median(times):.2f} ms, "
          f"p99 {p99:.2f} ms")  # fmt: skip
    return p99


def cold_search() -> None:
    """Time a whole `bot search` process: with the model cached, and with an empty cache."""
    bot = Path(sys.executable).with_name("bot")
    subprocess.run([bot, "search", "warm up"], capture_output=True, check=True)
    with tempfile.TemporaryDirectory() as empty:
        for label, env in (
            ("model cached", {}),
            ("empty cache, so it trains", {"BOT_CACHE_DIR": empty}),
        ):
            start = time.perf_counter()
            subprocess.run([bot, "search", "noisy neighbours"], env={**os.environ, **env},
                           capture_output=True, check=True)  # fmt: skip
            print(f"cold `bot search`, {label}: {time.perf_counter() - start:.2f} s")


def main() -> int:
    """Print every figure; exit 1 when a test-set target is missed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    parser.add_argument("--testset", type=Path, default=ROOT / "bench" / "heldout16")
    args = parser.parse_args()
    content = load_content(ROOT)
    u = load_understanding(content)
    print(f"test set ({args.testset.resolve().relative_to(ROOT)}):")
    ok = test_set(u, args.testset, args.verbose)
    if not args.no_cv:
        cross_validate(content)
    ok &= timing(content, args.testset) <= 10.0
    cold_search()
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
