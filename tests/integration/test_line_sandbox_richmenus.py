"""The LINE sandbox's rich menu endpoints (devstack/line_sandbox.py), over real HTTP."""

from __future__ import annotations

import copy
import hashlib
import io
import re
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from devstack.line_sandbox import LineSandbox
from tests.integration.sandbox_session import sandbox_session

TOKEN = "test-access-token"
MENU = {
    "size": {"width": 2500, "height": 1686},
    "selected": True,
    "name": "test menu",
    "chatBarText": "メニュー Menu",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 1250, "height": 1686},
            "action": {"type": "postback", "label": "通報", "displayText": "通報", "data": "menu.report~x"},
        },
        {
            "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 1686},
            "action": {"type": "uri", "label": "Web", "uri": "https://www.city.katsushika.lg.jp/"},
        },
    ],
}
NOT_FOUND = {"message": "Not found"}


def picture(width: int = 2500, height: int = 1686, kind: str = "PNG") -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (0x15, 0x65, 0xC0)).save(output, format=kind)
    return output.getvalue()


PNG = picture()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LineSandbox]:
    with LineSandbox(port=0, access_token=TOKEN) as sandbox:
        yield sandbox


@pytest.fixture
def api(sandbox: LineSandbox) -> Iterator[requests.Session]:
    """A session with the right token that takes paths; reset the sandbox first."""
    assert requests.post(f"{sandbox.base_url}/__sandbox/reset", timeout=5).status_code == 200
    session = sandbox_session(sandbox.base_url, TOKEN)
    yield session
    session.close()


def state(sandbox: LineSandbox) -> dict:
    return requests.get(f"{sandbox.base_url}/__sandbox/richmenus", timeout=5).json()


def create(api: requests.Session, menu: dict = MENU) -> str:
    response = api.post("/v2/bot/richmenu", json=menu)
    assert response.status_code == 200, response.text
    return response.json()["richMenuId"]


def upload(api: requests.Session, rich_menu_id: str, data: bytes = PNG, content_type: str = "image/png"):
    return api.post(
        f"/v2/bot/richmenu/{rich_menu_id}/content", data=data, headers={"Content-Type": content_type}
    )


def test_create_get_list_and_delete(api: requests.Session) -> None:
    rich_menu_id = create(api)
    assert re.fullmatch(r"richmenu-[0-9a-f]{32}", rich_menu_id)
    assert api.get(f"/v2/bot/richmenu/{rich_menu_id}").json() == {"richMenuId": rich_menu_id, **MENU}
    assert api.get("/v2/bot/richmenu/list").json() == {"richmenus": [{"richMenuId": rich_menu_id, **MENU}]}
    assert api.post("/v2/bot/richmenu/validate", json=MENU).json() == {}

    assert api.delete(f"/v2/bot/richmenu/{rich_menu_id}").json() == {}
    assert api.get(f"/v2/bot/richmenu/{rich_menu_id}").status_code == 404
    response = api.delete(f"/v2/bot/richmenu/{rich_menu_id}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert api.get("/v2/bot/richmenu/list").json() == {"richmenus": []}


def test_an_area_outside_the_image_is_400(api: requests.Session, sandbox: LineSandbox) -> None:
    menu = copy.deepcopy(MENU)
    menu["areas"][1]["bounds"]["width"] = 1251  # one pixel past the right edge
    expected = {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "must lie within the rich menu", "property": "areas[1].bounds"}],
    }
    for path in ("/v2/bot/richmenu", "/v2/bot/richmenu/validate"):
        response = api.post(path, json=menu)
        assert (response.status_code, response.json()) == (400, expected)
    assert state(sandbox)["richmenus"] == []


def _changed(path: str, value: object) -> dict:
    menu = copy.deepcopy(MENU)
    *parents, last = path.split(".")
    target = menu
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return menu


@pytest.mark.parametrize(
    ("menu", "prop"),
    [
        (_changed("size.height", 1800), "size"),  # aspect ratio under 1.45
        (_changed("size.width", 3000), "size.width"),
        (_changed("name", ...), "name"),
        (_changed("name", "x" * 301), "name"),
        (_changed("chatBarText", "メニューを開く Open menu"), "chatBarText"),
        (_changed("selected", "yes"), "selected"),
        (_changed("areas", MENU["areas"] * 11), "areas"),
        (_changed("areas.0.action.data", "x" * 301), "areas[0].action.data"),
        (_changed("areas.0.action.data", ...), "areas[0].action.data"),
        (
            _changed("areas.0.action.label", "とても長いラベルはスクリーンリーダーで読み上げきれない"),
            "areas[0].action.label",
        ),
        (_changed("areas.0.action.type", "telephone"), "areas[0].action.type"),
        (_changed("areas.1.bounds.x", -1), "areas[1].bounds"),
    ],
)
def test_invalid_rich_menu_objects_are_400(api: requests.Session, menu: dict, prop: str) -> None:
    response = api.post("/v2/bot/richmenu", json=menu)
    assert response.status_code == 400
    assert response.json()["message"] == "The request body has 1 error(s)"
    assert [detail["property"] for detail in response.json()["details"]] == [prop]


def test_malformed_json_is_400(api: requests.Session) -> None:
    response = api.post("/v2/bot/richmenu", data=b"{", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (
        400,
        {"message": "The request body could not be parsed as JSON"},
    )


def test_one_image_per_menu_of_the_menus_size(api: requests.Session, sandbox: LineSandbox) -> None:
    rich_menu_id = create(api)
    invalid = {"message": "The image size is not allowed for richmenu"}
    for data, content_type in [
        (picture(2500, 843), "image/png"),  # a valid rich menu size, but not this menu's
        (PNG, "image/jpeg"),  # not what it says it is
        (b"not an image", "image/png"),
        (PNG + b"\0" * 1_000_000, "image/png"),  # over 1 MB
    ]:
        response = upload(api, rich_menu_id, data, content_type)
        assert (response.status_code, response.json()) == (400, invalid)
    response = upload(api, rich_menu_id, content_type="image/gif")
    assert (response.status_code, response.json()) == (415, {"message": "Unsupported media type"})
    assert state(sandbox)["richmenus"][0]["hasImage"] is False

    first, second = upload(api, rich_menu_id), upload(api, rich_menu_id)
    assert (first.status_code, first.json()) == (200, {})
    assert (second.status_code, second.json()) == (
        400,
        {"message": "An image has already been uploaded to the richmenu"},
    )
    (stored,) = state(sandbox)["richmenus"]
    assert stored["hasImage"] is True
    assert stored["imageSha256"] == hashlib.sha256(PNG).hexdigest()

    response = upload(api, "richmenu-" + "0" * 32)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_jpeg_image_is_read_from_its_frame_header(api: requests.Session) -> None:
    rich_menu_id = create(api)
    assert upload(api, rich_menu_id, picture(2500, 1700, "JPEG"), "image/jpeg").status_code == 400
    response = upload(api, rich_menu_id, picture(kind="JPEG"), "image/jpeg")
    assert (response.status_code, response.json()) == (200, {})


def test_the_default_rich_menu(api: requests.Session, sandbox: LineSandbox) -> None:
    response = api.get("/v2/bot/user/all/richmenu")
    assert (response.status_code, response.json()) == (404, {"message": "no default richmenu", "details": []})
    rich_menu_id = create(api)
    response = api.post(f"/v2/bot/user/all/richmenu/{rich_menu_id}")
    assert (response.status_code, response.json()) == (
        400,
        {"message": "must upload richmenu image before applying it to user", "details": []},
    )
    response = api.post("/v2/bot/user/all/richmenu/richmenu-" + "0" * 32)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)

    upload(api, rich_menu_id)
    assert api.post(f"/v2/bot/user/all/richmenu/{rich_menu_id}").json() == {}
    assert api.get("/v2/bot/user/all/richmenu").json() == {"richMenuId": rich_menu_id}
    assert state(sandbox)["defaultRichMenuId"] == rich_menu_id

    assert api.delete("/v2/bot/user/all/richmenu").json() == {}
    assert api.get("/v2/bot/user/all/richmenu").status_code == 404
    assert state(sandbox)["defaultRichMenuId"] is None


def test_deleting_the_default_menu_leaves_no_default(api: requests.Session) -> None:
    rich_menu_id = create(api)
    upload(api, rich_menu_id)
    api.post(f"/v2/bot/user/all/richmenu/{rich_menu_id}")
    api.delete(f"/v2/bot/richmenu/{rich_menu_id}")
    assert api.get("/v2/bot/user/all/richmenu").status_code == 404


def test_rich_menu_endpoints_need_the_token(sandbox: LineSandbox) -> None:
    for method, path in [("GET", "/v2/bot/richmenu/list"), ("POST", "/v2/bot/richmenu")]:
        assert requests.request(method, sandbox.base_url + path, json=MENU, timeout=5).status_code == 401


def test_reset_forgets_the_rich_menus(api: requests.Session, sandbox: LineSandbox) -> None:
    rich_menu_id = create(api)
    upload(api, rich_menu_id)
    api.post(f"/v2/bot/user/all/richmenu/{rich_menu_id}")
    assert requests.post(f"{sandbox.base_url}/__sandbox/reset", timeout=5).status_code == 200
    assert state(sandbox) == {"richmenus": [], "defaultRichMenuId": None}
    assert api.get("/v2/bot/richmenu/list").json() == {"richmenus": []}
