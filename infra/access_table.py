"""infra/README.md's "What each function may touch", from chalicelib/access.py (the list the
IAM policies are made from), so the two cannot drift: `python -m infra.access_table` prints it,
and tests/infra checks that the README holds it as printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = (
    "| function | reads and writes | reads | sends to | buckets | secrets (`<prefix>/…`) | also |\n"
    "| --- | --- | --- | --- | --- | --- | --- |"
)


def table() -> str:
    from chalicelib.access import FUNCTIONS, Access, secret_name

    same: dict[Access, list[str]] = {}
    for function, access in FUNCTIONS.items():
        same.setdefault(access, []).append(function)
    rows = [HEADER]
    for access, functions in same.items():
        also = [
            *(["DLQ depths"] if access.peeks else []),
            *(["schedules"] if access.schedules else []),
            *(["email"] if access.email else []),
        ]
        cells = (
            ", ".join(f"`{f}`" for f in functions),
            ", ".join(dict.fromkeys(access.writes)),
            ", ".join(dict.fromkeys(access.reads)),
            ", ".join(access.sends),
            ", ".join(access.buckets),
            ", ".join(f"`{secret_name(s)}`" for s in access.secrets),
            ", ".join(also),
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
