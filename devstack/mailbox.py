"""`make mail`: the emails the local stack sent (moto's SES keeps them; nothing leaves the machine).

Reads moto's own state dump (`GET /moto-api/data.json` on the AWS port) and prints each
message's recipients, subject and text, newest last. `make mail N=3` shows the last three.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10, help="how many of the latest messages (default 10)")
    args = parser.parse_args(argv)
    port = Ports.from_env().aws
    preflight.require_stack("moto: SES", port, "MADOGUCHI_AWS_PORT")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=10) as response:  # noqa: S310
        sent = json.loads(response.read()).get("ses", {}).get("Message", [])
    if not sent:
        print("no emails sent yet")
        return 0
    for message in sent[-args.n :]:
        to = ", ".join(message.get("destinations", {}).get("ToAddresses", []))
        print(f"=== to {to}\n    subject: {message.get('subject')}\n")
        print(_text(message.get("body") or ""))
        print()
    print(f"({len(sent)} sent in all; the stack forgets them when it stops)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
