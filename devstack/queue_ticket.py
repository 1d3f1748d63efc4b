"""The link a ticket's QR code carries: `python -m devstack.queue_ticket honcho A012 [--day 2026-12-01]`.

Prints `<liff_url>/queue/tickets/<office>.<YYYYMMDD>.<number>.<HMAC>`, signed with
QUEUE_TICKET_SECRET (services.queue_ingress.ticket_link: the webhook answers each `issued` event
with it as `ticketUrl`, for the machine to print). Any QR encoder turns it into the printed code.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime

from devstack.env import Ports, local_environ


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("office")
    parser.add_argument("number")
    parser.add_argument("--day", help="YYYY-MM-DD (Tokyo); default today")
    args = parser.parse_args()
    for name, value in local_environ(Ports.from_env()).items():
        os.environ.setdefault(name, value)
    from chalicelib.domain import queue as rules
    from chalicelib.services.queue_ingress import ticket_link

    if rules.config().office(args.office) is None:
        raise SystemExit(f"unknown office {args.office!r}")
    day = date.fromisoformat(args.day) if args.day else datetime.now(UTC).astimezone(rules.TOKYO).date()
    print(ticket_link(args.office, day, args.number))


if __name__ == "__main__":
    main()
