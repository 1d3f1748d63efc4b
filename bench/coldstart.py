"""Cold start of `POST /line/webhook`: madoguchi against a naive app that imports everything up front.

Each run is a fresh interpreter. The time is the parent's wall clock from spawning it to
reading its "answered" line: interpreter start, the imports, and one signed request through
chalice.test.Client against the local stack. Peak memory is the child's own high-water RSS.

    .venv/bin/python bench/coldstart.py [--runs 7] [--json] [--no-pyc]
    .venv/bin/python bench/coldstart.py --package A.zip --package B.zip [--runs 7]

--package compares Lambda deployment packages instead (infra/package.py builds them; e.g.
the one `make synth` put in cdk.out and one built with pyc=False): each is unpacked, and a
child runs with no site-packages (python -S) and nothing written (PYTHONDONTWRITEBYTECODE),
as on Lambda's read-only /var/task; it imports the package's app.py and calls the Lambda entry
point with an API Gateway proxy event, so a package without .pyc files compiles on every run.

The local stack (moto, LINE sandbox, dev issuer) runs in this process, started once, so a
child pays only for itself. Variants alternate (ABBA...) to spread drift and noise.

Bytecode: children keep their .pyc files in a temporary PYTHONPYCACHEPREFIX, filled by an
untimed warm-up run, so the figures are import costs whatever the shell's
PYTHONDONTWRITEBYTECODE says. --no-pyc compiles every module from source in every run
instead, as a Lambda package without .pyc files does (the standard library too, which a
Lambda runtime has compiled, so it overstates that cost somewhat).

The "naive" variant first does, at module scope, what a straightforward Lambda app would:
import every package of requirements.in and create the Powertools Logger, Metrics and
Tracer and a LINE WebhookParser; then it imports app.py like the other.

Only cheap modules are imported at module scope here: a child runs this module, and the
parent's tools (argparse, subprocess, the local stack) must not be counted in its time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("madoguchi", "naive")
TARGET_RATIO = 0.25
MARKER = "COLDSTART-RESULT "
WATCHED_MODULES = ("linebot", "jsonschema", "aws_xray_sdk")

# requirements.in distribution (runtime top-level pins) -> what a naive app imports for it at module scope.
NAIVE_IMPORTS = {
    "aws-lambda-powertools": ["aws_lambda_powertools"],
    "boto3": ["boto3"],
    "botocore": ["botocore"],
    "chalice": ["chalice"],
    "jsonschema": ["jsonschema"],
    "line-bot-sdk": ["linebot.v3.messaging", "linebot.v3.webhook"],
    "pynamodb": ["pynamodb.models"],
    "pyjwt": ["jwt", "cryptography"],
    "jpholiday": ["jpholiday"],
    "jinja2": ["jinja2"],
    "markupsafe": ["markupsafe"],
}

# What a child runs. sys.path[0] is the cwd (the repo root), so `app` and `chalicelib` import.
CHILD_CODE = "import sys; sys.path.insert(1, 'bench'); import coldstart; sys.exit(coldstart.child())"


# --- child: runs in the measured interpreter ---------------------------------------------


def child() -> int:
    """argv: variant, body, signature[, naive module names]. Prints one MARKER line when answered."""
    variant, body, signature = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    if variant.startswith("package:"):
        return child_package(body, signature)
    steps: dict[str, float] = {}
    started = time.perf_counter()

    if variant == "naive":
        _naive_module_scope(sys.argv[4].split(","))
        steps["naive_imports_ms"] = _ms_since(started)

    mark = time.perf_counter()
    from app import app

    steps["import_app_ms"] = _ms_since(mark)

    mark = time.perf_counter()
    from chalice.test import Client  # test harness: not part of a Lambda cold start

    steps["import_harness_ms"] = _ms_since(mark)

    mark = time.perf_counter()
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature}
    with Client(app) as client:
        response = client.http.post("/line/webhook", body=body, headers=headers)
    steps["request_ms"] = _ms_since(mark)

    if response.status_code != 200:
        print(f"POST /line/webhook answered {response.status_code}: {response.body!r}", file=sys.stderr)
        return 1
    result = {
        "peak_kib": _peak_rss_kib(),
        "steps": steps,
        "modules": {name: name in sys.modules for name in WATCHED_MODULES},
        "module_count": len(sys.modules),
    }
    print(MARKER + json.dumps(result), flush=True)
    return 0


def child_package(body: bytes, signature: str) -> int:
    """A deployment package, unpacked in the cwd: import app.py and call it as Lambda would."""
    steps: dict[str, float] = {}
    mark = time.perf_counter()
    from app import app

    steps["import_app_ms"] = _ms_since(mark)
    mark = time.perf_counter()
    event = {
        "resource": "/line/webhook",
        "path": "/line/webhook",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature},
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/line/webhook",
            "httpMethod": "POST",
            "path": "/api/line/webhook",
            "requestId": "coldstart",
            "stage": "api",
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }

    class Context:
        function_name = "line_webhook"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:line_webhook"
        memory_limit_in_mb = 512
        aws_request_id = "coldstart"
        log_group_name = log_stream_name = "coldstart"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30000

    response = app(event, Context())
    steps["request_ms"] = _ms_since(mark)
    if response["statusCode"] != 200:
        print(f"POST /line/webhook answered {response['statusCode']}: {response['body']!r}", file=sys.stderr)
        return 1
    result = {
        "peak_kib": _peak_rss_kib(),
        "steps": steps,
        "modules": {name: name in sys.modules for name in WATCHED_MODULES},
        "module_count": len(sys.modules),
    }
    print(MARKER + json.dumps(result), flush=True)
    return 0


def _naive_module_scope(modules: list[str]) -> None:
    import importlib

    for name in modules:
        importlib.import_module(name)
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from linebot.v3.webhook import WebhookParser

    Logger(service="naive")
    Metrics(namespace="Naive", service="naive")
    Tracer(service="naive")
    WebhookParser(os.environ["LINE_CHANNEL_SECRET"])


def _ms_since(mark: float) -> float:
    return (time.perf_counter() - mark) * 1000


def _peak_rss_kib() -> int:
    """This process's high-water RSS (VmHWM).

    Not ru_maxrss: on Linux it also counts the parent's RSS at fork time (here the parent
    holds moto, ~150 MB), so every child would report the parent's size.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource  # not Linux: the best there is

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- parent: starts the stack, spawns the children, reports --------------------------------


def naive_imports(requirements: Path) -> list[str]:
    """The modules the naive app imports: one entry of NAIVE_IMPORTS per line of requirements.in."""
    import re

    modules: list[str] = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[\[=<>!~;\s]", line, maxsplit=1)[0]
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key not in NAIVE_IMPORTS:
            raise SystemExit(f"bench/coldstart.py: add {name!r} (requirements.in) to NAIVE_IMPORTS")
        modules += NAIVE_IMPORTS[key]
    return modules


def signed_follow_event() -> tuple[str, str]:
    """A follow event never seen before (fresh id and timestamp) and its X-Line-Signature."""
    from chalicelib.domain.line_webhook import sign
    from devstack.send_event import new_event_id

    document = json.loads((ROOT / "events/line/follow.json").read_text(encoding="utf-8"))
    for event in document["events"]:
        event["webhookEventId"] = new_event_id()
        event["timestamp"] = int(time.time() * 1000)
    body = json.dumps(document, ensure_ascii=False)
    return body, sign(os.environ["LINE_CHANNEL_SECRET"], body.encode())


def run_child(variant: str, naive_modules: list[str], env: dict[str, str]) -> dict:
    """One fresh interpreter: the wall time to its answer, and what it reports about itself."""
    import subprocess

    body, signature = signed_follow_event()
    argv = [sys.executable, "-c", CHILD_CODE, variant, body, signature, ",".join(naive_modules)]
    cwd = ROOT
    if variant.startswith("package:"):  # the unpacked package first on sys.path, no site-packages
        cwd = Path(variant.split(":", 1)[1])
        code = f"import sys; sys.path.insert(1, {str(ROOT / 'bench')!r}); import coldstart; sys.exit(coldstart.child())"
        argv = [sys.executable, "-S", "-c", code, variant, body, signature, ""]
    output: list[str] = []
    started = time.perf_counter()
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout:  # the app logs to stdout too: skip to our line
            if line.startswith(MARKER):
                wall_ms = (time.perf_counter() - started) * 1000
                result = json.loads(line[len(MARKER) :])
                break
            output.append(line)
        else:
            process.wait()
            raise SystemExit(
                f"{variant} child exited {process.returncode} without answering:\n" + "".join(output)
            )
        process.communicate()  # drain and reap; the shutdown is not timed
    result["wall_ms"] = wall_ms
    # Spawn, interpreter start-up and this module's import: everything before the child's first step.
    result["steps"] = {"start_ms": wall_ms - sum(result["steps"].values()), **result["steps"]}
    return result


def summarise(samples: dict[str, list[dict]]) -> dict:
    from statistics import median

    summary: dict = {"variants": {}}
    for variant, runs in samples.items():
        times = [run["wall_ms"] for run in runs]
        steps = {name: median(run["steps"][name] for run in runs) for name in runs[0]["steps"]}
        summary["variants"][variant] = {
            "median_ms": median(times),
            "min_ms": min(times),
            "max_ms": max(times),
            "median_peak_mib": median(run["peak_kib"] for run in runs) / 1024,
            "median_steps_ms": steps,
            "modules": runs[-1]["modules"],
            "module_count": runs[-1]["module_count"],
            "wall_ms": times,
        }
    if "naive" not in summary["variants"]:  # --package: packages against each other, no target
        return summary
    ours, naive = summary["variants"]["madoguchi"], summary["variants"]["naive"]
    summary["ratio"] = {
        "time": ours["median_ms"] / naive["median_ms"],
        "memory": ours["median_peak_mib"] / naive["median_peak_mib"],
    }
    harness = {v: s["median_steps_ms"]["import_harness_ms"] for v, s in summary["variants"].items()}
    summary["ratio"]["time_without_harness"] = (ours["median_ms"] - harness["madoguchi"]) / (
        naive["median_ms"] - harness["naive"]
    )
    summary["target"] = TARGET_RATIO
    return summary


def report(summary: dict) -> str:
    rows = [f"{'variant':<10} {'median ms':>10} {'min':>8} {'max':>8} {'peak MiB':>9}  modules"]
    for variant, s in summary["variants"].items():
        loaded = ", ".join(f"{name}={'yes' if hit else 'no'}" for name, hit in s["modules"].items())
        rows.append(
            f"{variant:<10} {s['median_ms']:>10.0f} {s['min_ms']:>8.0f} {s['max_ms']:>8.0f}"
            f" {s['median_peak_mib']:>9.1f}  {loaded} ({s['module_count']} modules)"
        )
    rows.append("")
    rows.append("median steps, ms (start: spawn and interpreter start-up, as seen by the parent):")
    for variant, s in summary["variants"].items():
        steps = "  ".join(f"{name.removesuffix('_ms')} {ms:.0f}" for name, ms in s["median_steps_ms"].items())
        rows.append(f"  {variant:<10} {steps}")
    if "ratio" not in summary:
        rows.append(f"{summary['runs']} runs per package, Python {summary['python']}, {summary['cpus']} CPUs")
        return "\n".join(rows)
    ratio, target = summary["ratio"], summary["target"]
    verdict = "meets" if ratio["time"] <= target else "misses"
    rows += [
        "",
        f"ratio madoguchi/naive: time {ratio['time']:.2f}, memory {ratio['memory']:.2f}"
        f"  ({verdict} the target <= {target})",
        f"time ratio without the chalice.test import (not paid on Lambda): {ratio['time_without_harness']:.2f}",
        f"{summary['runs']} runs per variant, bytecode {summary['bytecode']}, Python {summary['python']},"
        f" {summary['cpus']} CPUs",
    ]
    return "\n".join(rows)


def main() -> int:
    import argparse
    import logging
    import shutil
    import socket
    import tempfile
    import uuid

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant (default 7)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--no-pyc", action="store_true", help="no bytecode cache: compile every module in every run"
    )
    parser.add_argument(
        "--package", action="append", default=[], help="a deployment zip to measure (repeat to compare)"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    sys.path.insert(0, str(ROOT))
    from devstack.env import Ports, local_environ

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    # As the tests do: free ports, local secrets whatever the shell has, and a prefix of our
    # own, all set before anything imports chalicelib (table names are read at import).
    ports = Ports(aws=free_port(), line=free_port(), api=free_port(), issuer=free_port())
    base = {k: v for k, v in os.environ.items() if not k.startswith("LINE_CHANNEL_")}
    os.environ.update(local_environ(ports, base=base))
    os.environ["MADOGUCHI_PREFIX"] = f"madoguchi-bench-{uuid.uuid4().hex[:6]}"
    pycache = tempfile.mkdtemp(prefix="coldstart-pycache-")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    if args.no_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # and the prefix stays empty: nothing is cached
    modules = naive_imports(ROOT / "requirements.in")
    variants: tuple[str, ...] = VARIANTS
    unpacked: list[str] = []
    if args.package:
        import zipfile

        env.pop("PYTHONPYCACHEPREFIX")
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # /var/task is read-only: only the package's own .pyc
        for zip_path in args.package:
            folder = tempfile.mkdtemp(prefix="coldstart-package-")
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(folder)
            unpacked.append(folder)
        variants = tuple(f"package:{folder}" for folder in unpacked)

    from devstack.run import LocalStack

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log, one line per call
    stack = LocalStack(ports)
    stack.start()
    try:
        for variant in variants:  # warm-up, not counted: disk cache, .pyc files, moto's first calls
            run_child(variant, modules, env)
        samples: dict[str, list[dict]] = {variant: [] for variant in variants}
        for round_ in range(args.runs):
            for variant in variants if round_ % 2 == 0 else reversed(variants):
                samples[variant].append(run_child(variant, modules, env))
    finally:
        stack.stop()
        shutil.rmtree(pycache, ignore_errors=True)
        for folder in unpacked:
            shutil.rmtree(folder, ignore_errors=True)
    if args.package:  # name the packages by their zip, not their temporary folder
        samples = {path: samples[variant] for path, variant in zip(args.package, variants, strict=True)}

    summary = summarise(samples)
    summary["runs"] = args.runs
    summary["python"] = sys.version.split()[0]
    summary["cpus"] = os.cpu_count()
    summary["bytecode"] = (
        "the package's own" if args.package else "none (--no-pyc)" if args.no_pyc else "cached"
    )
    print(json.dumps(summary, indent=2) if args.json else report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
