"""Register the ward's LINE rich menu and make it the default: `python -m infra.richmenu`.

Builds the menu from chalicelib/data/richmenu.json (each area's `x-action` signed into its
postback data with the channel secret) and chalicelib/data/richmenu.png, then, with the Messaging
API: creates it, uploads the image, makes it the default, and deletes the menus this command
made before (their names start with NAME_PREFIX; menus made any other way are left alone).

LINE can neither edit a menu nor replace its image, so every change is a new menu. Its name
carries a hash of everything sent (definition, signed data, image): when the default menu
already has that name there is nothing to do, and a run says so. Old menus are deleted only
once the new one is the default, so residents are never without a menu.

The channel secret and access token come from chalicelib.config (LINE_CHANNEL_SECRET /
LINE_CHANNEL_ACCESS_TOKEN, or their *_ARN in Secrets Manager or SSM), the hosts from
LINE_API_BASE / LINE_DATA_API_BASE. `--local` (what `make richmenu` runs) points all of them at
the stack of `make run`. Nothing here prints the token or the secret.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob, RichMenuRequest
from linebot.v3.messaging.exceptions import ApiException

from chalicelib.config import get_settings
from chalicelib.domain import postbacks

DATA = Path(__file__).resolve().parents[1] / "chalicelib" / "data"
DEFINITION = DATA / "richmenu.json"
IMAGE = DATA / "richmenu.png"
NAME_PREFIX = "madoguchi "


@dataclass(frozen=True)
class Registration:
    rich_menu_id: str
    created: bool
    deleted: tuple[str, ...] = ()


def build_rich_menu(definition: dict, channel_secret: str) -> dict:
    """The rich menu object to send: `_` keys dropped, each `x-action` signed into its postback data."""
    menu = {key: copy.deepcopy(value) for key, value in definition.items() if not key.startswith("_")}
    for area in menu["areas"]:
        action = area["action"]
        if "x-action" not in action:
            continue
        if action.get("type") != "postback":
            raise ValueError(f"x-action belongs on a postback action, not {action.get('type')!r}")
        action["data"] = postbacks.sign(channel_secret, action.pop("x-action"))
    return menu


def registered_name(menu: dict, image: bytes) -> str:
    """The name `menu` is registered under: our prefix, a hash of all that is sent, and its own name."""
    digest = hashlib.sha256(json.dumps(menu, sort_keys=True, ensure_ascii=False).encode())
    digest.update(image)
    return f"{NAME_PREFIX}{digest.hexdigest()[:16]} {menu['name']}"


def register(menu: dict, image: bytes, api: MessagingApi, blob: MessagingApiBlob) -> Registration:
    """Make `menu` with `image` the default rich menu unless it already is, then delete our older menus."""
    menu = {**menu, "name": registered_name(menu, image)}
    ours = [found for found in api.get_rich_menu_list().richmenus if found.name.startswith(NAME_PREFIX)]
    default_id = _default_rich_menu_id(api)
    if any(found.name == menu["name"] and found.rich_menu_id == default_id for found in ours):
        return Registration(default_id, created=False)

    rich_menu_id = api.create_rich_menu(RichMenuRequest.from_dict(menu)).rich_menu_id
    media_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    blob.set_rich_menu_image(rich_menu_id, image, _headers={"Content-Type": media_type})
    api.set_default_rich_menu(rich_menu_id)
    # A same-named menu that is not the default (a run that failed half-way) goes too.
    stale = tuple(found.rich_menu_id for found in ours)
    for old_id in stale:
        api.delete_rich_menu(old_id)
    return Registration(rich_menu_id, created=True, deleted=stale)


def _default_rich_menu_id(api: MessagingApi) -> str | None:
    try:
        return api.get_default_rich_menu_id().rich_menu_id
    except ApiException as error:
        if error.status == 404:  # no default rich menu
            return None
        raise


def _require_the_stacks_secret(api_port: int) -> None:
    """The tiles are signed with this shell's LINE_CHANNEL_SECRET: one the running stack does not
    use would have every tap refused. Asked as LINE's own webhook check asks (no events, signed)."""
    import urllib.error
    import urllib.request

    from chalicelib.domain.line_webhook import sign
    from devstack import preflight

    body = b'{"destination": "U' + b"0" * 32 + b'", "events": []}'
    request = urllib.request.Request(  # noqa: S310 (the local stack)
        f"http://127.0.0.1:{api_port}/line/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Line-Signature": sign(get_settings().line_channel_secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            return
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            preflight.fail(
                "the running stack uses another LINE_CHANNEL_SECRET than this shell: set the same one"
                " here (or none in both), else every tile tap is refused"
            )
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Register the ward's LINE rich menu and make it the default."
    )
    parser.add_argument("--definition", type=Path, default=DEFINITION, help="the rich menu JSON")
    parser.add_argument("--image", type=Path, default=IMAGE, help="its PNG or JPEG image")
    parser.add_argument("--local", action="store_true", help="use the local stack of `make run`")
    args = parser.parse_args(argv)
    if args.local:
        from devstack import preflight
        from devstack.env import Ports, local_environ

        ports = Ports.from_env()
        os.environ.update(local_environ(ports))
        preflight.require_stack("LINE sandbox", ports.line, "MADOGUCHI_LINE_PORT")
        for path in (args.definition, args.image):
            if not path.is_file():
                preflight.fail(f"no such file: {path}")
        _require_the_stacks_secret(ports.api)

    settings = get_settings()
    menu = build_rich_menu(
        json.loads(args.definition.read_text(encoding="utf-8")), settings.line_channel_secret
    )
    image = args.image.read_bytes()
    token = settings.line_channel_access_token
    # The SDK sends every call to its Configuration's host: the image upload (api-data.line.me)
    # needs a client of its own.
    with (
        ApiClient(Configuration(host=settings.line_api_base, access_token=token)) as api_client,
        ApiClient(Configuration(host=settings.line_data_api_base, access_token=token)) as data_client,
    ):
        try:
            result = register(menu, image, MessagingApi(api_client), MessagingApiBlob(data_client))
        except OSError as error:  # urllib3's connection errors: the LINE API is not there
            print(
                f"cannot reach the LINE API at {settings.line_api_base}: {type(error).__name__}",
                file=sys.stderr,
            )
            return 1
        except ApiException as error:
            body = error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else error.body
            print(f"LINE answered {error.status}: {body}", file=sys.stderr)
            return 1
    if not result.created:
        print(f"rich menu {result.rich_menu_id} is already the default with this content; nothing to do")
        return 0
    print(f"created rich menu {result.rich_menu_id} and made it the default")
    for old_id in result.deleted:
        print(f"deleted older rich menu {old_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
