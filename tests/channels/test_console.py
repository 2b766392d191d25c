"""The console channel, through the real `bot chat --jsonl` process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.channels.console import parse_line, run_chat
from bot.core.types import Kind
from bot.service.conversation import Conversations


def jsonl(tmp_path: Path, lines: list[str], *args: str) -> list[dict[str, Any]]:
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--jsonl", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_a_conversation_in_json_lines(tmp_path: Path) -> None:
    out = jsonl(
        tmp_path,
        [
            '{"command": "start", "arg": "vawg"}',
            '{"choice": "svc:angelou"}',
            '{"choice": "menu"}',
            '{"choice": "emergency"}',
            '{"command": "exit"}',
        ],
        "--lang",
        "en",
    )
    assert len(out) == 5
    assert "Violence against women and girls" in out[0]["text"]
    assert {"id": "svc:angelou", "label": "The Angelou Partnership"} in out[0]["choices"]
    assert "0808 801 0660" in out[1]["text"]
    assert out[2]["choices"][0] == {"id": "emergency", "label": "🚨 Emergency"}
    assert "press 55" in out[3]["text"]
    assert out[4]["effects"] == ["erase_chat", "reset"]


def test_first_contact_without_a_language_asks_for_one(tmp_path: Path) -> None:
    out = jsonl(tmp_path, ["hello", '{"choice": "lang:es"}'])
    assert [c["id"] for c in out[0]["choices"]][:2] == ["lang:en", "lang:ar"]
    assert out[1]["choices"][0]["id"] == "emergency"


def test_hostile_input_gets_clear_answers_and_the_conversation_goes_on(tmp_path: Path) -> None:
    hostile = [
        '{"choice": "tips"}',
        "A" * 20_000,
        "\u202eevil\u202c \u0007\u0008 \u200f",
        "😀🔪💣 <script>alert(1)</script> <b>hi</b> &amp;",
        '{"choice": "../../etc/passwd"}',
        '{"choice": 12}',
        "{not json at all",
        "[1, 2, 3]",
        '{"location": ["north", "south"]}',
        '{"command": "start", "arg": "' + "x" * 5000 + '"}',
        '{"choice": "tips.fraud"}',
    ]
    out = jsonl(tmp_path, hostile, "--lang", "en")
    assert len(out) >= len(hostile)
    assert all(r["text"].strip() and r["choices"] for r in out)
    assert any(r.get("error", "").startswith("not valid JSON") for r in out)
    assert "<script>" not in "".join(r["text"] for r in out)
    assert "Take five" in out[-1]["text"]  # still working at the end


def test_parse_line_reads_every_documented_shape() -> None:
    assert parse_line('{"choice": "help"}', "en")[0].kind is Kind.CHOICE
    cmd = parse_line('{"command": "start", "arg": "so_youth"}', None)[0]
    assert (cmd.kind, cmd.text, cmd.arg) == (Kind.COMMAND, "start", "so_youth")
    loc = parse_line('{"location": [51.5, -0.2]}', None)[0]
    assert loc.location == (51.5, -0.2)
    assert parse_line("/language", None)[0].kind is Kind.COMMAND
    assert parse_line("plain words", None)[0].text == "plain words"
    assert parse_line("{oops", None)[1] is not None


def test_human_chat_numbers_the_choices(conv: Conversations) -> None:
    out = io.StringIO()
    run_chat(conv, "en", io.StringIO("4\n1\n"), out)
    text = out.getvalue()
    assert "  1. 🚨 Emergency" in text
    assert "**" not in text
    assert "Home security" in text  # 4 = Safety tips
    assert "window" in text.lower()  # 1 = Home security


def test_run_with_no_channel_opens_the_console(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM", "WHATSAPP"))}
    env["BOT_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "bot", "run"], input="1\n", capture_output=True,
                          text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1. " in proc.stdout and "press 55" in proc.stdout


def test_a_number_typed_as_a_report_answer_is_the_answer(conv: Conversations) -> None:
    out = io.StringIO()
    run_chat(conv, "en", io.StringIO('{"choice": "report.form"}\n1\n'), out)
    text = out.getvalue()
    question = text[text.index("what is happening?") :]
    # The question's own buttons are not numbered, so "1" cannot press one of them.
    assert "  - " in question and "  1. " not in question.split("Where is it happening?")[0]
    assert "Where is it happening?" in question
