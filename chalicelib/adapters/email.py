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


def send_with_calendar(to: Sequence[str], subject: str, text: str, ics_text: str) -> str:
    """One plain-text message with an iCalendar (.ics) attachment, for a booking. Raises EmailNotSent."""
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    from botocore.exceptions import BotoCoreError, ClientError

    recipients = list(to)
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"an email needs 1 to {MAX_RECIPIENTS} recipients")
    message = MIMEMultipart("mixed")
    message["Subject"] = subject
    message["From"] = get_settings().ses_sender
    message["To"] = ", ".join(recipients)
    message.attach(MIMEText(text, "plain", "utf-8"))
    calendar = MIMEApplication(ics_text.encode("utf-8"), "ics")
    calendar.replace_header("Content-Type", 'text/calendar; charset="utf-8"; method=PUBLISH')
    calendar.add_header("Content-Disposition", "attachment", filename="consultation.ics")
    message.attach(calendar)
    try:
        response = client("ses").send_raw_email(
            Source=get_settings().ses_sender,
            Destinations=recipients,
            RawMessage={"Data": message.as_bytes()},
        )
    except ClientError as error:
        raise EmailNotSent(str(error.response.get("Error", {}).get("Code") or "ClientError")) from None
    except BotoCoreError as error:
        raise EmailNotSent(type(error).__name__) from None
    return response["MessageId"]
