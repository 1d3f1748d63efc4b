"""The Lambda deployment package: only runtime dependencies, compiled bytecode, and it works on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import package
from tests.infra.conftest import Synth

# Top-level names the package may hold: the app, what requirements.txt pulls in, Chalice's runtime
# module. A new runtime dependency is added here on purpose, with the requirement that brings it.
ALLOWED = {
    "app", "chalicelib", "chalice",
    # aws-lambda-powertools[tracer], boto3/botocore
    "aws_lambda_powertools", "aws_xray_sdk", "wrapt", "wrapt-stubs", "jmespath", "typing_extensions",
    "boto3", "botocore", "s3transfer", "dateutil", "six", "urllib3",
    # jsonschema
    "jsonschema", "jsonschema_specifications", "referencing", "rpds", "attr", "attrs",
    # line-bot-sdk v3 (its client imports aiohttp and pydantic at import time)
    "linebot", "aenum", "aiohttp", "aiohappyeyeballs", "aiosignal", "frozenlist", "multidict", "propcache",
    "yarl", "idna", "deprecated", "future", "past", "libfuturize", "libpasteurize", "pydantic",
    "pydantic_core", "annotated_types", "typing_inspection", "requests", "certifi", "charset_normalizer",
    # pynamodb; PyJWT[crypto]
    "pynamodb", "jwt", "cryptography", "cffi", "pycparser", "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
    # Jinja2 for the resident pages (imported by the page functions only); jpholiday for the
    # business calendar
    "jinja2", "markupsafe", "jpholiday",
}  # fmt: skip
# Chalice's command line and packaging tools: never on Lambda.
NEVER = {
    "pip",
    "setuptools",
    "wheel",
    "inquirer",
    "blessed",
    "readchar",
    "click",
    "yaml",
    "wcwidth",
    "jinxed",
}


@pytest.fixture(scope="module")
def deployment_zip(synth: Synth) -> Path:
    return Path(synth.stacks["dev"].chalice._sam_package_dir) / "deployment.zip"


def test_package_holds_only_runtime_packages(deployment_zip: Path) -> None:
    names = package.top_level_names(deployment_zip)
    assert not names & NEVER
    assert names <= ALLOWED, f"not allowed in the package: {sorted(names - ALLOWED)}"
    assert {"app", "chalicelib", "chalice", "linebot", "pynamodb", "aws_lambda_powertools"} <= names
    with zipfile.ZipFile(deployment_zip) as archive:
        chalice_files = {n for n in archive.namelist() if n.startswith("chalice/") and n.endswith(".py")}
    assert chalice_files == {"chalice/__init__.py", "chalice/app.py"}  # the runtime module only


def test_package_holds_exactly_the_runtime_lock(deployment_zip: Path) -> None:
    """Every distribution in the package at its requirements.txt version, and nothing else."""
    import re

    lock = {}
    for line in (package.ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin:
            lock[re.sub(r"[-_.]+", "-", pin[1]).lower()] = pin[2]
    with zipfile.ZipFile(deployment_zip) as archive:
        folders = {n.split("/", 1)[0] for n in archive.namelist() if ".dist-info/" in n}
    packaged = {}
    for folder in folders:
        name, version = folder.removesuffix(".dist-info").rsplit("-", 1)
        packaged[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert packaged == lock


def test_every_module_has_unchecked_bytecode(deployment_zip: Path) -> None:
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(deployment_zip) as archive:
        names = set(archive.namelist())
        sources = [
            n for n in names if n.startswith(("chalicelib/", "linebot/", "pynamodb/")) or n == "app.py"
        ]
        sources = [n for n in sources if n.endswith(".py")]
        assert len(sources) > 100
        for source in sources:
            folder, _, file = source.rpartition("/")
            pyc = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{tag}.pyc"
            assert pyc in names, source
        header = archive.read(f"__pycache__/app.{tag}.pyc")[:8]
    import importlib.util

    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, not checked against the source


def test_botocore_keeps_the_service_models_the_code_calls() -> None:
    assert {"s3", "sqs", "scheduler", "ses", "dynamodb", "secretsmanager"} <= set(package.aws_services())


def test_the_package_imports_and_creates_its_clients_on_its_own(deployment_zip: Path, tmp_path: Path) -> None:
    """Unpacked and run with no site-packages (python -S): what Lambda would import, and nothing else."""
    with zipfile.ZipFile(deployment_zip) as archive:
        archive.extractall(tmp_path)
    code = (
        "import sys, pkgutil, importlib; sys.path.insert(0, sys.argv[1]);"
        "import app, chalicelib;"
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(chalicelib.__path__, 'chalicelib.')];"
        "import linebot.v3.messaging, jwt, jsonschema, aws_lambda_powertools.utilities.parameters;"
        "import botocore.session; s = botocore.session.get_session();"
        "[s.create_client(n, region_name='ap-northeast-1') for n in sys.argv[2].split(',')];"
        "print('ok', len(sys.modules))"
    )
    env = {"MADOGUCHI_STAGE": "dev", "AWS_DEFAULT_REGION": "ap-northeast-1", "PYTHONDONTWRITEBYTECODE": "1",
           "AWS_ACCESS_KEY_ID": "none", "AWS_SECRET_ACCESS_KEY": "none", "POWERTOOLS_TRACE_DISABLED": "true"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(tmp_path), ",".join(package.aws_services())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-3000:]


def test_the_package_ships_the_faq_index_prebuilt_from_its_own_files(
    deployment_zip: Path, tmp_path: Path
) -> None:
    """The worker reads the index at its first question instead of building it; one built from
    other files or code would be ignored (and rebuilt), so check the package's own is used."""
    with zipfile.ZipFile(deployment_zip) as archive:
        archive.extractall(tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from chalicelib.domain import faq;"
        "print(faq._read_prebuilt(faq.INDEX_PATH) is not None, faq.load_index().search('住民票', 'ja')[0].entry_id)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(tmp_path)],
        cwd=tmp_path,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["True", "certificate-juminhyo"], result.stderr[-3000:]
