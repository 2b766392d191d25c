"""Search and emergency-detection benchmark: hit rates per language, recall, false alarms, latency.

Run: .venv/bin/python bench/search_bench.py [--verbose]
Targets: top-3 >= 95% in every language, emergency recall 100%, at most 1 false alarm in 50
benign queries, p99 search latency under 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml
from bot.search import Searcher

from bot.content import load_content
from bot.safety import DangerDetector

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    data = yaml.safe_load((ROOT / "bench" / "queries.yaml").read_text(encoding="utf-8"))
    content = load_content(ROOT)
    searcher = Searcher(content.directory, content.catalogs, ROOT / "locales")
    danger = DangerDetector(ROOT / "locales", content.catalogs)
    for _ in range(3):  # warm up
        searcher.search("warm up query about noisy neighbours")

    ok = True
    timings: list[float] = []
    total1 = total3 = total = 0
    print(f"{'lang':6}{'n':>5}{'top-1':>9}{'top-3':>9}")
    for lang, queries in data["queries"].items():
        top1 = top3 = 0
        for item in queries:
            start = time.perf_counter()
            hits = [h.id for h in searcher.search(item["q"], limit=3)]
            timings.append((time.perf_counter() - start) * 1000)
            expect = set(item["expect"])
            top1 += bool(hits[:1] and hits[0] in expect)
            top3 += bool(expect & set(hits))
            if args.verbose and not expect & set(hits):
                print(f"  miss [{lang}] {item['q']!r}: got {hits}, want {sorted(expect)}")
        n = len(queries)
        total1, total3, total = total1 + top1, total3 + top3, total + n
        ok &= top3 / n >= 0.95
        print(f"{lang:6}{n:>5}{top1 / n:>9.1%}{top3 / n:>9.1%}")
    print(f"{'all':6}{total:>5}{total1 / total:>9.1%}{total3 / total:>9.1%}")

    phrases = [(lang, p) for lang, ps in data["emergency"].items() for p in ps]
    missed = [(lang, p) for lang, p in phrases if not danger.is_emergency(p)]
    benign = [(lang, p) for lang, ps in data["benign"].items() for p in ps]
    alarms = [(lang, p) for lang, p in benign if danger.is_emergency(p)]
    recall = 1 - len(missed) / len(phrases)
    print(f"\nemergency recall: {recall:.1%} ({len(phrases) - len(missed)}/{len(phrases)})")
    print(f"false alarms: {len(alarms)} in {len(benign)} benign queries")
    for lang, p in missed if args.verbose else []:
        print(f"  missed [{lang}] {p!r}")
    for lang, p in alarms if args.verbose else []:
        print(f"  alarm  [{lang}] {p!r}")
    ok &= not missed and len(alarms) <= len(benign) / 50

    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"\nsearch latency over {len(timings)} queries: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    ok &= p99 < 5.0
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
