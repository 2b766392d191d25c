"""`bot staff`: the accounts the Community Safety Team signs in with."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from bot.settings import Settings
from bot.staff.accounts import ROLES, AccountError, Accounts, normal_email
from bot.staff.signins import SignIns


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `staff` command and its actions."""
    staff = sub.add_parser("staff", help="staff accounts: add, list, remove")
    actions = staff.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a new account; the password is read from standard input")
    add.add_argument("email")
    add.add_argument("--role", choices=ROLES, default="officer")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from standard input (never from the command line)",
    )
    actions.add_parser("list", help="every account, its role and whether it is locked")
    remove = actions.add_parser("remove", help="delete an account")
    remove.add_argument("email")


def staff(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `bot staff` action."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    accounts = Accounts(settings.db_path)
    try:
        if args.action == "add":
            password = sys.stdin.readline().rstrip("\r\n")
            try:
                account = accounts.add(args.email, password, args.role)
            except AccountError as exc:
                print(f"Not added: {exc}.", file=sys.stderr)
                return 1
            print(f"added {account.email} ({account.role})")
        elif args.action == "list":
            for account in accounts.all():
                since = datetime.fromtimestamp(account.created_at, UTC).date().isoformat()
                locked = " (locked)" if account.locked_until > datetime.now(UTC).timestamp() else ""
                print(f"{account.email}\t{account.role}\tsince {since}{locked}")
        elif not accounts.remove(args.email):
            print(f"No account for {args.email}.", file=sys.stderr)
            return 1
        else:
            signins = SignIns(settings.db_path)
            signins.end_all(normal_email(args.email))  # signed out everywhere, at once
            signins.close()
            print(f"removed {args.email}")
        return 0
    finally:
        accounts.close()
