"""`python -m infra.richmenu` against the local stack's LINE sandbox: register, rerun, replace."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import requests

from chalicelib.domain import postbacks
from infra.richmenu import DEFINITION, IMAGE, NAME_PREFIX, main

ACTIONS = {"menu.report", "menu.apply", "menu.ask", "menu.settings", "menu.queue", "menu.pay"}


def create(sandbox, menu: dict) -> str:
    """Create a rich menu directly, as someone other than the command would."""
    headers = {"Authorization": f"Bearer {os.environ['LINE_CHANNEL_ACCESS_TOKEN']}"}
    response = requests.post(f"{sandbox.base_url}/v2/bot/richmenu", json=menu, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["richMenuId"]


def rich_menus(sandbox) -> dict:
    return requests.get(f"{sandbox.base_url}/__sandbox/richmenus", timeout=5).json()


def changes(sandbox, since: int = 0) -> list[tuple[str, str]]:
    """The rich menu calls that change something, from the sandbox's request log."""
    return [
        (entry["method"], entry["path"])
        for entry in sandbox.requests()[since:]
        if entry["method"] in ("POST", "DELETE") and "richmenu" in entry["path"]
    ]


def test_register_makes_one_signed_menu_with_its_image_the_default(sandbox, capsys) -> None:
    assert main([]) == 0

    state = rich_menus(sandbox)
    (stored,) = state["richmenus"]
    menu = stored["richMenu"]
    assert state["defaultRichMenuId"] == menu["richMenuId"]
    assert stored["hasImage"] is True
    assert stored["imageSha256"] == hashlib.sha256(IMAGE.read_bytes()).hexdigest()
    assert menu["name"].startswith(NAME_PREFIX)
    secret = os.environ["LINE_CHANNEL_SECRET"]
    assert {postbacks.read(secret, area["action"]["data"]).action for area in menu["areas"]} == ACTIONS
    assert all("x-action" not in area["action"] for area in menu["areas"])

    output = capsys.readouterr()
    assert menu["richMenuId"] in output.out
    for secret_value in (os.environ["LINE_CHANNEL_ACCESS_TOKEN"], secret):
        assert secret_value not in output.out + output.err


def test_registering_again_changes_nothing(sandbox, capsys) -> None:
    main([])
    before = rich_menus(sandbox)
    logged = len(sandbox.requests())
    capsys.readouterr()

    assert main([]) == 0
    assert rich_menus(sandbox) == before
    assert changes(sandbox, since=logged) == []
    assert "nothing to do" in capsys.readouterr().out


def test_a_changed_definition_replaces_the_old_menu(sandbox, tmp_path: Path) -> None:
    main([])
    old_id = rich_menus(sandbox)["defaultRichMenuId"]
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    definition["chatBarText"] = "メニュー"
    changed = tmp_path / "richmenu.json"
    changed.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    logged = len(sandbox.requests())

    assert main(["--definition", str(changed)]) == 0

    state = rich_menus(sandbox)
    (stored,) = state["richmenus"]
    new_id = stored["richMenu"]["richMenuId"]
    assert new_id != old_id and state["defaultRichMenuId"] == new_id
    assert stored["richMenu"]["chatBarText"] == "メニュー" and stored["hasImage"]
    # The new menu is the default before the old one goes: residents always have a menu.
    assert changes(sandbox, since=logged) == [
        ("POST", "/v2/bot/richmenu"),
        ("POST", f"/v2/bot/richmenu/{new_id}/content"),
        ("POST", f"/v2/bot/user/all/richmenu/{new_id}"),
        ("DELETE", f"/v2/bot/richmenu/{old_id}"),
    ]


def test_only_menus_this_command_made_are_deleted(sandbox) -> None:
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    foreign = {
        "size": definition["size"],
        "selected": False,
        "name": "campaign menu made by hand",
        "chatBarText": "Campaign",
        "areas": [],
    }
    foreign_id = create(sandbox, foreign)
    half_made_id = create(sandbox, {**foreign, "name": NAME_PREFIX + "0" * 16})  # ours, from a failed run

    assert main([]) == 0

    remaining = {stored["richMenu"]["richMenuId"] for stored in rich_menus(sandbox)["richmenus"]}
    assert foreign_id in remaining and half_made_id not in remaining
    assert len(remaining) == 2


def test_a_refusal_from_line_is_reported_not_raised(sandbox, capsys) -> None:
    sandbox.fault("/v2/bot/richmenu", method="POST", status=400)
    assert main([]) == 1
    assert "LINE answered 400" in capsys.readouterr().err
