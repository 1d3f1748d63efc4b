"""The Lambda deployment package: `chalice package`, then compiled bytecode, then route functions.

Chalice builds the zip (its dependency layer cached in .chalice/deployments by requirements.txt's
hash, so only the first build downloads wheels, from PyPI). Then:

- **Bytecode.** /var/task is read-only, so without .pyc files every cold start compiles every
  module it imports, and cannot keep the result. Each .py gets a `__pycache__/*.pyc` for this
  interpreter (the Lambda runtime is the same Python minor version: Chalice picks the runtime
  from it). They are *unchecked-hash* pycs: the zip keeps mtimes to 2 s only, so timestamp pycs
  would look stale on Lambda and be ignored; an unchecked pyc is used as is, which is right for
  a package nobody edits in place.
- **Trim.** requirements.txt holds only what the functions import. botocore's service models are
  half the zip (19 MB of 40 unpacked): only the services the code calls are kept, found in the
  code itself (`client("s3")` and the like, see `aws_services()`) plus those the libraries call
  (PynamoDB: dynamodb; Powertools parameters: secretsmanager, ssm). A new `client("x")` in
  chalicelib is picked up by the next build; tests/infra checks the package against the code.
- **The FAQ index**, built here and shipped (`chalicelib/data/faq_index.pickle`): the worker reads
  it at its first question instead of building it (seconds on a fraction of a vCPU).
- **Route functions.** Routes listed in chalicelib/access.py ROUTE_FUNCTIONS get their own
  function (same code, same handler) in the SAM template, so their role can differ.

Packaging runs in a child interpreter: Chalice imports app.py, whose queue and table names come
from the stage's settings, read once per process.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".chalice" / "deployments" / "cdk"
REGION = "ap-northeast-1"
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/replaced-by-infra"
# Zip entries dropped from the package: bytecode from the build machine (we add our own).
DROPPED_SUFFIXES = (".pyc", ".pyo")
# The FAQ index, prebuilt (chalicelib/domain/faq.py INDEX_PATH): reading it on a cold start takes
# a fraction of building it.
FAQ_INDEX = "chalicelib/data/faq_index.pickle"
# AWS services the libraries call on the functions' behalf (the code's own calls are found in it).
LIBRARY_SERVICES = ("dynamodb", "secretsmanager", "ssm", "sts")
_CLIENT_CALL = re.compile(r"""\bclient\(\s*["']([a-z0-9-]+)["']""")


def aws_services() -> tuple[str, ...]:
    """Every AWS service the deployed code names in a `client("...")` call, plus LIBRARY_SERVICES."""
    found = set(LIBRARY_SERVICES)
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        found.update(_CLIENT_CALL.findall(path.read_text(encoding="utf-8")))
    return tuple(sorted(found))


_PACKAGE_CHILD = """
import json, sys
from chalice import api
args = json.loads(sys.argv[1])
api.package_app(project_dir=args["project_dir"], output_dir=args["output_dir"], stage=args["stage"],
                chalice_config=args["config"])
"""


def chalice_config() -> dict[str, Any]:
    """What infra/ tells Chalice on top of .chalice/config.json: no IAM of its own (infra makes one
    role per function and sets it on each), no policy guessed from the code."""
    return {"autogen_policy": False, "manage_iam_role": False, "iam_role_arn": PLACEHOLDER_ROLE}


_BUILT: dict[tuple[str, str, bool], Path] = {}


def build(
    stage: str, prefix: str, *, web_origin: str = "", pyc: bool = True, out_root: Path | None = None
) -> Path:
    """A directory holding sam.json and deployment.zip for `stage`, named with `prefix` (once per
    process). `web_origin` is the resident routes' CORS origin, which Chalice writes into the API's
    OPTIONS answers when it packages (read at import: chalicelib/api/requests.py)."""
    key = (stage, prefix, web_origin, pyc)
    if key not in _BUILT or not (_BUILT[key] / "deployment.zip").exists():
        _BUILT[key] = _build(stage, prefix, web_origin, pyc=pyc, out_root=out_root or CACHE)
    return _BUILT[key]


def _build(stage: str, prefix: str, web_origin: str, *, pyc: bool, out_root: Path) -> Path:
    raw = out_root / f"{prefix}-chalice"
    if raw.exists():
        shutil.rmtree(raw)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION"))
    }
    env.update(MADOGUCHI_STAGE=stage, MADOGUCHI_PREFIX=prefix, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("WEB_ORIGIN", None)  # this machine's (a dev stack's) is not the stage's
    if web_origin:
        env["WEB_ORIGIN"] = web_origin
    args = {"project_dir": str(ROOT), "output_dir": str(raw), "stage": stage, "config": chalice_config()}
    result = subprocess.run(  # noqa: S603 (our own interpreter, our own arguments)
        [sys.executable, "-c", _PACKAGE_CHILD, json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"chalice package failed:\n{result.stdout}\n{result.stderr}")

    out = out_root / f"{prefix}{'' if pyc else '-nopyc'}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    finish_zip(raw / "deployment.zip", out / "deployment.zip", pyc=pyc)
    template = json.loads((raw / "sam.json").read_text(encoding="utf-8"))
    split_route_functions(template)
    (out / "sam.json").write_text(json.dumps(template, indent=1), encoding="utf-8")
    shutil.rmtree(raw)
    return out


def finish_zip(source: Path, target: Path, *, pyc: bool = True) -> None:
    """Copy Chalice's zip, dropping stray bytecode and (with pyc) adding compiled modules.

    The result depends only on the input's contents, and is cached by their hash: compiling
    the ~2,500 modules takes seconds, and the dependencies change only with requirements.txt.
    """
    services = aws_services()
    # FAQ_INDEX in the key: zips cached before the index was shipped are not reused.
    salt = repr(services).encode() + FAQ_INDEX.encode()
    digest = hashlib.sha256(source.read_bytes() + salt).hexdigest()[:20]
    cached = CACHE / f"{digest}-{'pyc' if pyc else 'src'}-{sys.implementation.cache_tag}.zip"
    if cached.exists():
        shutil.copyfile(cached, target)
        return
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            name = info.filename
            if name.endswith(DROPPED_SUFFIXES) or "/__pycache__/" in f"/{name}" or name == FAQ_INDEX:
                continue
            parts = name.split("/")
            if parts[:2] == ["botocore", "data"] and len(parts) > 3 and parts[2] not in services:
                continue
            data = src.read(info)
            dst.writestr(_entry(name, info.external_attr), data)
            if pyc and name.endswith(".py"):
                compiled = _compile(name, data)
                if compiled is not None:
                    folder, _, file = name.rpartition("/")
                    pyc_name = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{tag}.pyc"
                    dst.writestr(_entry(pyc_name, 0o644 << 16), compiled)
        dst.writestr(_entry(FAQ_INDEX, 0o644 << 16), _faq_index())
    CACHE.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, cached)
    # Every change to the app makes a new one: keep the few newest, not one per edit.
    for old in sorted(CACHE.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)[4:]:
        old.unlink(missing_ok=True)


def _faq_index() -> bytes:
    """The FAQ index, built here once instead of at the first question of every container."""
    from chalicelib.domain import faq

    return faq.prebuilt_index()


def _entry(name: str, external_attr: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = external_attr or (0o644 << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _compile(name: str, source: bytes) -> bytes | None:
    import importlib.util
    import warnings
    from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escapes in old dependencies: theirs, not ours
            code = compile(source, f"/var/task/{name}", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None  # e.g. a Python 2 example file inside a package: never imported
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


def top_level_names(zip_path: Path) -> set[str]:
    """The package's top-level importable names (folders and modules), without metadata folders."""
    names = set()
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            top = name.split("/", 1)[0]
            if top.endswith((".dist-info", ".data", ".pth")) or top == "__pycache__":
                continue
            names.add(top.removesuffix(".py") if "/" not in name else top)
    return names


def _function_name(handler: str) -> str:
    name = handler.rsplit(".", 1)[1]
    return "api_handler" if name == "app" else name


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def functions(template: dict[str, Any]) -> dict[str, str]:
    """Function name (the handler's name, `api_handler` for the API, or a ROUTE_FUNCTIONS key) -> logical id."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        name = resource.get("Metadata", {}).get("madoguchi:function") or _function_name(
            resource["Properties"]["Handler"]
        )
        found[name] = logical_id
    return found


def split_route_functions(template: dict[str, Any]) -> None:
    """Give each ROUTE_FUNCTIONS entry a function of its own and point its routes' integrations at it."""
    from chalicelib.access import ROUTE_FUNCTIONS

    resources = template["Resources"]
    if "APIHandler" not in resources:
        return
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for function, routes in ROUTE_FUNCTIONS.items():
        logical_id = camel(function) + "Handler"
        resources[logical_id] = copy.deepcopy(resources["APIHandler"])
        resources[logical_id]["Metadata"] = {"madoguchi:function": function}
        permission = copy.deepcopy(resources["APIHandlerInvokePermission"])
        permission["Properties"]["FunctionName"] = {"Ref": logical_id}
        resources[logical_id + "InvokePermission"] = permission
        for path, method in routes:
            if path not in paths or method not in paths[path]:
                raise ValueError(f"ROUTE_FUNCTIONS: app.py has no route {method.upper()} {path}")
            integration = paths[path][method]["x-amazon-apigateway-integration"]
            integration["uri"] = {
                "Fn::Sub": integration["uri"]["Fn::Sub"].replace("APIHandler.", logical_id + ".")
            }
