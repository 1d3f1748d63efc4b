"""`make mail`: the emails the local stack sent (moto's SES keeps them; nothing leaves the machine).

Reads moto's own state dump (`GET /moto-api/data.json` on the AWS port) and prints each
message's recipients, subject and text, newest last. `make mail N=3` shows the last three.
Raw messages (a booking's confirmation with its .ics) are kept apart by moto, so they are shown
after the plain ones, each list in the order sent.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import json
import re
import sys
import urllib.request

from devstack import preflight
from devstack.env import Ports


def _text(body: str) -> str:
    """The readable text of an HTML body (moto keeps the HTML part when both are sent)."""
    body = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", "", body)
    body = re.sub(r"(?i)<br\s*/?>|</(p|li|h[1-6]|div)>", "\n", body)
    body = re.sub(r"<[^>]+>", "", body)
    lines = [html.unescape(line).strip() for line in body.splitlines()]
    return "\n".join(line for line in lines if line)


def _plain(message: dict) -> tuple[str, str, str]:
    to = ", ".join(message.get("destinations", {}).get("ToAddresses", []))
    return to, str(message.get("subject")), _text(message.get("body") or "")


def _raw(message: dict) -> tuple[str, str, str]:
    parsed = email.message_from_string(message.get("raw_data") or "", policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return str(parsed.get("To", "")), str(parsed.get("Subject", "")), _text(str(body))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10, help="how many of the latest messages (default 10)")
    parser.add_argument("--to", default="", help="only the messages to addresses holding this text")
    args = parser.parse_args(argv)
    port = Ports.from_env().aws
    preflight.require_stack("moto: SES", port, "MADOGUCHI_AWS_PORT")
    # moto lists sent mail only inside its whole state, which a day of `make queue-sim` and use
    # grows to megabytes that take moto a while to write out.
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=180) as response:  # noqa: S310
            ses = json.loads(response.read()).get("ses", {})
    except TimeoutError:
        print(
            "moto took over 3 minutes to list its state; restart `make run` to start afresh", file=sys.stderr
        )
        return 1
    sent = [_plain(message) for message in ses.get("Message", [])]
    sent += [_raw(message) for message in ses.get("RawMessage", [])]
    sent = [message for message in sent if args.to.lower() in message[0].lower()]
    if not sent:
        print(f"no emails sent to {args.to!r} yet" if args.to else "no emails sent yet")
        return 0
    for to, subject, text in sent[-args.n :]:
        print(f"=== to {to}\n    subject: {subject}\n")
        print(text)
        print()
    print(f"({len(sent)} sent in all; the stack forgets them when it stops)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
