"""Assets, deadline alerts, notifiers and response checks for the shim.

Assets combine with | and & as in Airflow; DeadlineReference names the
moment a deadline counts from; the send_*_notification functions make the
same recorded notifier objects as their classes; simple_check reads a
lambda response_check into Sirocco's declarative check. No Airflow code is
copied here.
"""
import ast

import sirocco_af_core as core
from sirocco_af_source import lambda_node


class Asset:
    """Airflow 3's Asset (Airflow 2's Dataset): a URI, or a name used as one."""

    def __init__(self, name=None, uri=None, *args, group=None, extra=None, watchers=None, **kwargs):
        if uri is None and name is not None and "://" in str(name):
            uri, name = name, None
        self.uri = uri or ""
        self.name = name or ""
        self.extra = extra or {}

    def __or__(self, other):
        return AssetAny(self, other)

    def __and__(self, other):
        return AssetAll(self, other)

    def shim_encode(self, enc):
        return {"__kind__": "asset", "uri": self.uri, "name": self.name, "extra": enc(self.extra)}


class AssetAll:
    """All of its assets (AssetAll, DatasetAll, a & b)."""
    op = "all"

    def __init__(self, *objects):
        self.objects = list(objects)

    def __or__(self, other):
        return AssetAny(self, other)

    def __and__(self, other):
        return AssetAll(self, other)

    def shim_encode(self, enc):
        return {"__kind__": "asset_" + self.op, "items": [enc(o) for o in self.objects]}


class AssetAny(AssetAll):
    """Any of its assets (AssetAny, DatasetAny, a | b)."""
    op = "any"


class _Reference(core.Recorded):
    """One DeadlineReference: the moment a deadline's interval counts from."""

    def __init__(self, name, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name

    def shim_encode(self, enc):
        return {"__kind__": "deadline_ref", "name": self.name, "args": enc(list(self.args))}


class DeadlineReference:
    """airflow.sdk.definitions.deadline.DeadlineReference."""
    DAGRUN_LOGICAL_DATE = _Reference("DAGRUN_LOGICAL_DATE")
    DAGRUN_QUEUED_AT = _Reference("DAGRUN_QUEUED_AT")

    @staticmethod
    def FIXED_DATETIME(datetime):
        return _Reference("FIXED_DATETIME", datetime)

    @staticmethod
    def AVERAGE_RUNTIME(*args, **kwargs):
        return _Reference("AVERAGE_RUNTIME", *args, **kwargs)


# send_*_notification functions and the notifier class each one makes.
NOTIFIER_FUNCTIONS = {
    "send_smtp_notification": "SmtpNotifier",
    "send_slack_webhook_notification": "SlackWebhookNotifier",
    "send_slack_notification": "SlackNotifier",
}


def notifier_function(name):
    cls = core.recorded_class(NOTIFIER_FUNCTIONS[name])
    return lambda *args, **kwargs: cls(*args, **kwargs)


# ---------------------------------------------------------------- response_check


class NotSimple(Exception):
    pass


def simple_check(fn):
    """A lambda's body as {"status": [...]}, {"contains": text},
    {"json_path": ..., "equals": ...} (merged over `and`), or {"error": why}."""
    try:
        node = lambda_node(fn)
        if node is None:
            raise NotSimple("its source was not found, or another lambda on its line takes the same parameters")
        args = node.args
        if len(args.args) < 1 or args.vararg or args.kwonlyargs:
            raise NotSimple("it does not take the response as its one argument")
        return _check(node.body, args.args[0].arg)
    except NotSimple as e:
        return {"error": str(e)}
    except Exception as e:  # a check that cannot be read is reported, never stops the file
        return {"error": "it was not read: %s: %s" % (type(e).__name__, e)}


def _check(node, resp):
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out = {}
        for v in node.values:
            part = _check(v, resp)
            if set(part) & set(out):
                raise NotSimple("`and` of two checks of the same kind")
            out.update(part)
        return out
    if isinstance(node, ast.Constant) and node.value is True:
        return {}
    if _is_attr(node, resp, "ok"):
        return {"status": ["2xx", "3xx"]}
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if _is_attr(left, resp, "status_code"):
            if isinstance(op, ast.Eq):
                return {"status": [_literal(right)]}
            if isinstance(op, ast.In):
                return {"status": list(_literal(right))}
        if isinstance(op, ast.In) and (_is_attr(right, resp, "text") or _is_attr(right, resp, "content")):
            text = _literal(left)
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            if not isinstance(text, str):
                raise NotSimple("`in` of a value that is not a string")
            return {"contains": text}
        if isinstance(op, ast.Eq):
            for a, b in ((left, right), (right, left)):
                path = _json_path(a, resp)
                if path is not None:
                    return {"json_path": path, "equals": _literal(b)}
    raise NotSimple("`%s` is not a status, text or JSON comparison" % ast.unparse(node)[:80])


def _is_attr(node, resp, name):
    return isinstance(node, ast.Attribute) and node.attr == name and \
        isinstance(node.value, ast.Name) and node.value.id == resp


def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise NotSimple("`%s` is not a literal" % ast.unparse(node)[:80])


def _json_path(node, resp):
    """$.a.b for resp.json()["a"]["b"] or resp.json().get("a"); None otherwise."""
    keys = []
    while True:
        if isinstance(node, ast.Subscript):
            keys.append(_literal(node.slice))
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and len(node.args) == 1 and not node.keywords:
            keys.append(_literal(node.args[0]))
            node = node.func.value
        else:
            break
    if not (isinstance(node, ast.Call) and not node.args and _is_attr(node.func, resp, "json")) or not keys:
        return None
    path = "$"
    for k in reversed(keys):
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise NotSimple("a JSON key that is not a string or an index")
        if isinstance(k, int):
            path += "[%d]" % k
        elif k.isidentifier():
            path += "." + k
        else:
            path += "['" + k.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return path
