"""SES: sending one email (plain text and HTML) from the ward's sender address.

Errors are re-raised as EmailNotSent carrying SES's error code only: SES's own messages
quote the addresses involved, and whatever an exception says ends up in a log line.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.aws import client
from chalicelib.config import get_settings

# SES takes at most 50 recipients per message.
MAX_RECIPIENTS = 50


class EmailNotSent(Exception):
    """SES did not take the message. `code` is SES's error code (or the network error's class)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"SES did not send the message ({code})")
        self.code = code


def send(to: Sequence[str], subject: str, text: str, html: str) -> str:
    """Send one message to `to` (all in To:); returns SES's message id. Raises EmailNotSent."""
    from botocore.exceptions import BotoCoreError, ClientError

    recipients = list(to)
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"an email needs 1 to {MAX_RECIPIENTS} recipients")
    try:
        response = client("ses").send_email(
            Source=get_settings().ses_sender,
            Destination={"ToAddresses": recipients},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": text, "Charset": "UTF-8"},
                    "Html": {"Data": html, "Charset": "UTF-8"},
                },
            },
        )
    except ClientError as error:
        raise EmailNotSent(str(error.response.get("Error", {}).get("Code") or "ClientError")) from None
    except BotoCoreError as error:
        raise EmailNotSent(type(error).__name__) from None
    return response["MessageId"]
