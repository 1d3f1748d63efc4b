"""What each Lambda function's code can reach in AWS, read from the code itself.

A static call graph over app.py and chalicelib: it starts at a function's entry points (its
handler in app.py with the middleware, or the view functions of the routes it serves) and
follows every name that leads to a function, class or constant of the app (imports inside
functions included, a class as a whole). On the way it notes:

- tables: the PynamoDB models of chalicelib/store/models.py it names; written when a function
  naming the model also saves, updates or deletes (an item, a transaction), or when it calls a
  function annotated to return the model (store helpers build audit items that way);
- sends: `adapters.queues.send_all/send_each(SPEC, ...)` with a QueueSpec of resources.py, also
  through a helper that passes its own parameter on (fanout's `_enqueue(queue, ...)`);
- schedules: the scheduler adapter, and the queue each `schedule_message(..., SPEC, ...)` targets;
- secrets: `_secret(NAME)` in config.py, the Settings properties that read one, `secret(NAME)`, and
  `get_settings().secret` handed on as a callable (the queue webhook: its sources' secrets);
- buckets (the *_BUCKET constants), email (adapters.email), queue depths (adapters.queues.depth),
  the LINE Messaging API (adapters.line_api's client).

It over-approximates (a function reached is taken as run; a branch is not a condition) and it
sees only what is named: a model reached through an unannotated argument alone is missed, so the
tests compare it with chalicelib/access.py in both directions and say which side to look at.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# A reference to a module ("mod", module) or to a top-level name in one ("def", module, name).
Target = tuple[str, ...]

_SENDERS = {"send_all", "send_each"}
_SCHEDULER = "chalicelib.adapters.scheduler"
_QUEUES = "chalicelib.adapters.queues"
_MODELS = "chalicelib.store.models"
_RESOURCES = "chalicelib.resources"
_CONFIG = "chalicelib.config"


@dataclass
class Reach:
    tables: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    sends: set[str] = field(default_factory=set)
    schedule_targets: set[str] = field(default_factory=set)
    schedules: bool = False
    buckets: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    email: bool = False
    peeks: bool = False
    line_api: bool = False
    settings: set[str] = field(default_factory=set)  # Settings fields and properties it reads


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class CodeGraph:
    def __init__(self, root: Path = ROOT) -> None:
        files = [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]
        self.modules = {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in files}
        self.defs: dict[str, dict[str, ast.AST]] = {}
        self.imports: dict[str, dict[str, Target]] = {}
        for module, tree in self.modules.items():
            defs: dict[str, ast.AST] = {}
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    defs[node.name] = node
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                        if isinstance(target, ast.Name):
                            defs[target.id] = node
            self.defs[module] = defs
            self.imports[module] = self._bindings(tree.body)
        self.strings = {
            name: node.value.value
            for name, node in self.defs[_RESOURCES].items()
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        }
        self.queue_specs = {
            name: node.value.args[0].value
            for name, node in self.defs[_RESOURCES].items()
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", "") == "QueueSpec"
            and isinstance(node.value.args[0], ast.Constant)
        }
        self.buckets = {name: value for name, value in self.strings.items() if name.endswith("_BUCKET")}
        self.models = self._models()
        self.secret_properties = self._secret_properties()
        settings = self.defs[_CONFIG]["Settings"]
        assert isinstance(settings, ast.ClassDef)
        self.setting_names = {
            node.target.id
            for node in settings.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        } | {
            node.name
            for node in settings.body
            if isinstance(node, ast.FunctionDef)
            and any(getattr(d, "id", "") == "property" for d in node.decorator_list)
            and node.name not in self.secret_properties
        }
        self.forwarders = self._forwarders()

    # --- reading the modules -------------------------------------------------------------------

    def _bindings(self, nodes: Iterable[ast.AST]) -> dict[str, Target]:
        found: dict[str, Target] = {}
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in self.modules and alias.asname:
                        found[alias.asname] = ("mod", alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in self.modules:
                        found[alias.asname or alias.name] = ("mod", full)
                    elif node.module in self.modules:
                        found[alias.asname or alias.name] = ("def", node.module, alias.name)
        return found

    def _models(self) -> dict[str, str]:
        """Model class name -> table (the resource part of `_settings.name("...")`)."""
        found = {}
        for name, node in self.defs[_MODELS].items():
            if not isinstance(node, ast.ClassDef):
                continue
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "table_name" for t in sub.targets)
                    and isinstance(sub.value, ast.Call)
                    and sub.value.args
                    and isinstance(sub.value.args[0], ast.Constant)
                ):
                    found[name] = sub.value.args[0].value
        return found

    def _secret_properties(self) -> dict[str, str]:
        """Settings attribute -> the secret it reads (`return _secret(NAME)`)."""
        settings = self.defs[_CONFIG]["Settings"]
        assert isinstance(settings, ast.ClassDef)
        found = {}
        for node in settings.body:
            if isinstance(node, ast.FunctionDef):
                local = self._bindings(ast.walk(node))
                for call in ast.walk(node):
                    name = self._secret_call(call, _CONFIG, local)
                    if name:
                        found[node.name] = name
        return found

    def _forwarders(self) -> dict[Target, int]:
        """Functions that send to the queue they are given: (module, name) -> that parameter's position."""
        found: dict[Target, int] = {}
        for module, defs in self.defs.items():
            for name, node in defs.items():
                if not isinstance(node, ast.FunctionDef):
                    continue
                params = [a.arg for a in node.args.args]
                local = self._bindings(ast.walk(node))
                for call in ast.walk(node):
                    if (
                        isinstance(call, ast.Call)
                        and self._is_sender(call.func, module, local)
                        and call.args
                        and isinstance(call.args[0], ast.Name)
                        and call.args[0].id in params
                    ):
                        found[("def", module, name)] = params.index(call.args[0].id)
        return found

    # --- resolving names ------------------------------------------------------------------------

    def resolve(self, expr: ast.AST, module: str, local: dict[str, Target]) -> Target | None:
        if isinstance(expr, ast.Name):
            bound = local.get(expr.id) or self.imports[module].get(expr.id)
            if bound:
                return bound
            return ("def", module, expr.id) if expr.id in self.defs[module] else None
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value, module, local)
            if base and base[0] == "mod":
                full = f"{base[1]}.{expr.attr}"
                if full in self.modules:
                    return ("mod", full)
                if expr.attr in self.defs[base[1]]:
                    return ("def", base[1], expr.attr)
                return self.imports[base[1]].get(expr.attr)
        return None

    def _string(self, expr: ast.AST, module: str, local: dict[str, Target]) -> str | None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        target = self.resolve(expr, module, local)
        if target and target[0] == "def" and target[1] == _RESOURCES:
            return self.strings.get(target[2])
        return None

    def _spec(self, expr: ast.AST, module: str, local: dict[str, Target]) -> str | None:
        target = self.resolve(expr, module, local)
        if target and target[0] == "def" and target[1] == _RESOURCES:
            return self.queue_specs.get(target[2])
        return None

    def _secret_call(self, node: ast.AST, module: str, local: dict[str, Target]) -> str | None:
        if not (isinstance(node, ast.Call) and node.args):
            return None
        func = node.func
        if isinstance(func, ast.Name) and func.id == "_secret" and module == _CONFIG:
            return self._string(node.args[0], module, local)
        if isinstance(func, ast.Attribute) and func.attr == "secret":
            return self._string(node.args[0], module, local)
        return None

    def _is_sender(self, func: ast.AST, module: str, local: dict[str, Target]) -> bool:
        target = self.resolve(func, module, local)
        return bool(target and target[0] == "def" and target[1] == _QUEUES and target[2] in _SENDERS)

    # --- walking --------------------------------------------------------------------------------

    def reach(self, roots: Iterable[Target], generic_secrets: Iterable[str] = ()) -> Reach:
        """What the code reachable from `roots` touches; `generic_secrets` are the names that
        `get_settings().secret` handed on as a callable may read (the queue sources' secrets)."""
        found = Reach()
        seen: set[Target] = set()
        todo = list(roots)
        while todo:
            unit = todo.pop()
            if unit in seen or unit[0] != "def":
                continue
            seen.add(unit)
            _, module, name = unit
            node = self.defs[module].get(name)
            if node is None:
                if name in self.imports[module]:
                    todo.append(self.imports[module][name])
                continue
            if module == _MODELS and name in self.models:
                continue
            if module == _RESOURCES and (name in self.queue_specs or name in self.buckets):
                continue
            if (module, name) == (_CONFIG, "Settings"):
                continue  # its secret properties count where they are read
            todo += self._visit(unit, node, found, generic_secrets)
        return found

    def _visit(
        self, unit: Target, node: ast.AST, found: Reach, generic_secrets: Iterable[str]
    ) -> list[Target]:
        module = unit[1]
        local = self._bindings(ast.walk(node))
        models: set[str] = set()
        writes = False
        targets: list[Target] = []
        called = {id(sub.func) for sub in ast.walk(node) if isinstance(sub, ast.Call)}
        holders = self._settings_holders(node, module, local)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name | ast.Attribute):
                target = self.resolve(sub, module, local)
                if target:
                    targets.append(target)
            if isinstance(sub, ast.Attribute):
                if sub.attr in self.secret_properties:
                    found.secrets.add(self.secret_properties[sub.attr])
                if sub.attr == "secret" and isinstance(sub.value, ast.Call) and id(sub) not in called:
                    found.secrets.update(generic_secrets)  # a callable reading whichever it is asked
                if sub.attr in ("save", "delete", "batch_write") and self.resolve(sub, module, local) is None:
                    writes = True  # an item's or a transaction's write, called or handed on
                if (sub.attr in self.setting_names or sub.attr == "name") and (
                    self._is_get_settings(sub.value, module, local)
                    or (isinstance(sub.value, ast.Name) and sub.value.id in holders)
                ):
                    found.settings.add("prefix" if sub.attr == "name" else sub.attr)  # name(): the prefix
            if isinstance(sub, ast.Name) and sub.id == "TransactWrite":
                writes = True
            if not isinstance(sub, ast.Call):
                continue
            secret = self._secret_call(sub, module, local)
            if secret:
                found.secrets.add(secret)
            callee = self.resolve(sub.func, module, local)
            if (
                isinstance(sub.func, ast.Attribute)
                and callee is None
                and sub.func.attr in ("update", "update_item")
                and any(k.arg == "actions" for k in sub.keywords)
            ):
                # An item's, a transaction's or a table connection's update(actions=...), not dict.update.
                writes = True
            if callee and callee[0] == "def":
                returned = self._returns_model(callee)
                if returned:
                    models.add(returned)
                if self._is_sender(sub.func, module, local) and sub.args:
                    spec = self._spec(sub.args[0], module, local)
                    if spec:
                        found.sends.add(spec)
                position = self.forwarders.get(callee)
                if position is not None and len(sub.args) > position:
                    spec = self._spec(sub.args[position], module, local)
                    if spec:
                        found.sends.add(spec)
                if callee[1:] == (_SCHEDULER, "schedule_message") and len(sub.args) > 2:
                    spec = self._spec(sub.args[2], module, local)
                    if spec:
                        found.schedule_targets.add(spec)
        follow = []
        for target in targets:
            if target[0] != "def" or target == unit:
                continue
            _, where, name = target
            if where == _MODELS and name in self.models:
                models.add(self.models[name])
            elif where == _RESOURCES and name in self.buckets:
                found.buckets.add(self.buckets[name])
            elif where == _SCHEDULER and isinstance(self.defs[where].get(name), ast.FunctionDef):
                found.schedules = True
            elif where == "chalicelib.adapters.email" and isinstance(
                self.defs[where].get(name), ast.FunctionDef
            ):
                found.email = True
            elif target[1:] == (_QUEUES, "depth"):
                found.peeks = True
            elif where == "chalicelib.adapters.line_api" and name in ("LineClient", "line_client"):
                found.line_api = True
            follow.append(target)
        found.tables |= models
        if writes:
            found.writes |= models
        return follow

    def setting_environment(self) -> dict[str, tuple[str, ...]]:
        """Settings field or property -> the environment variables config.py reads it from."""
        found: dict[str, tuple[str, ...]] = {}
        get_settings = self.defs[_CONFIG]["get_settings"]
        settings = self.defs[_CONFIG]["Settings"]
        assert isinstance(get_settings, ast.FunctionDef) and isinstance(settings, ast.ClassDef)
        assigned = {  # `stage = env.get(...)` before the Settings(...) that takes `stage=stage`
            target.id: node.value
            for node in get_settings.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for call in ast.walk(get_settings):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Settings":
                for keyword in call.keywords:
                    assert keyword.arg is not None
                    value = keyword.value
                    found[keyword.arg] = _environment_names(
                        assigned.get(value.id, value) if isinstance(value, ast.Name) else value
                    )
        for node in settings.body:
            if isinstance(node, ast.FunctionDef) and node.name in self.setting_names:
                found[node.name] = _environment_names(node)
        return found

    def _is_get_settings(self, expr: ast.AST, module: str, local: dict[str, Target]) -> bool:
        return isinstance(expr, ast.Call) and self.resolve(expr.func, module, local) == (
            "def",
            _CONFIG,
            "get_settings",
        )

    def _settings_holders(self, node: ast.AST, module: str, local: dict[str, Target]) -> set[str]:
        """Names holding the Settings in a function: assigned from get_settings(), or parameters
        annotated with Settings."""
        names = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign) and any(
                self._is_get_settings(call, module, local) for call in ast.walk(sub.value)
            ):
                names |= {t.id for t in sub.targets if isinstance(t, ast.Name)}
            if (
                isinstance(sub, ast.arg)
                and sub.annotation is not None
                and "Settings" in ast.unparse(sub.annotation)
            ):
                names.add(sub.arg)
        return names

    def _returns_model(self, target: Target) -> str | None:
        node = self.defs[target[1]].get(target[2])
        if isinstance(node, ast.FunctionDef) and isinstance(node.returns, ast.Name | ast.Constant):
            name = node.returns.id if isinstance(node.returns, ast.Name) else str(node.returns.value)
            resolved = self.resolve(ast.Name(id=name), target[1], {})
            if resolved and resolved[0] == "def" and resolved[1] == _MODELS:
                return self.models.get(resolved[2])
        return None


def _environment_names(node: ast.AST) -> tuple[str, ...]:
    """The names in `env.get("X", ...)`, `os.environ.get("X")` and `env["X"]` under `node`, in order."""
    names = []
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr == "get"
            and sub.args
            and isinstance(sub.args[0], ast.Constant)
        ):
            names.append(sub.args[0].value)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            names.append(sub.slice.value)
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Function:
    name: str
    roots: tuple[Target, ...]
    trigger: str | None = None  # the queue an SQS worker consumes


def functions(route_functions: dict[str, tuple[tuple[str, str], ...]]) -> dict[str, Function]:
    """Every Lambda function of the app, as infra/package.py names them, with its entry points."""
    from app import app
    from chalicelib.config import get_settings

    found = {}
    for source in app.event_sources:
        name = source.handler_string.rsplit(".", 1)[1]
        queue = getattr(source, "queue", None)
        middleware = ("def", "app", "background_observability")
        trigger = queue.removeprefix(get_settings().prefix + "-") if queue else None
        found[name] = Function(name, (("def", "app", name), middleware), trigger)
    split = {
        (path, method.upper()): name for name, routes in route_functions.items() for path, method in routes
    }
    views: dict[str, list[Target]] = {"api_handler": []}
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            owner = split.get((path, method), "api_handler")
            view = entry.view_function
            views.setdefault(owner, []).append(("def", view.__module__, view.__qualname__))
    for name, roots in views.items():
        found[name] = Function(name, (*roots, ("def", "app", "http_observability")))
    return found


@cache
def graph() -> CodeGraph:
    return CodeGraph()


def reach_of(function: Function, generic_secrets: Iterable[str]) -> Reach:
    return graph().reach(function.roots, generic_secrets)


def describe(reach: Reach) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, set) else v for k, v in reach.__dict__.items()}
