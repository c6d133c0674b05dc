"""A small stand-in for Airflow's authoring API, written for Sirocco.

It implements only what DAG files call while they are being defined (DAG,
operators, TaskGroup, @dag/@task, >>, chain, Param ...) and records what
they build; it never runs a task. sirocco_af_run.py executes DAG files
with it and prints what was recorded as JSON for `sirocco dags
import-airflow`. No Airflow code is copied here.
"""
import ast
import datetime as _dt
import inspect
import os
import re
import sys

from sirocco_af_source import function_source
from sirocco_af_values import (DagRunState, DaysAgo, Param, ParamsDict, RunState, TriggerRule,  # noqa: F401
                               Variable, days_ago)

SHIM_DIR = os.path.dirname(os.path.abspath(__file__))


class State:
    """What the DAG file being executed has built so far."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.dags = []
        self.dag_stack = []
        self.group_stack = []
        self.context_dags = set()

    def current_dag(self):
        return self.dag_stack[-1] if self.dag_stack else None

    def current_group(self):
        return self.group_stack[-1] if self.group_stack else None


STATE = State(os.devnull)


def reset(path):
    """Starts recording a new DAG file."""
    global STATE
    STATE = State(path)
    return STATE


def call_site():
    """FILE:LINE of the innermost frame of the DAG file (else outside the shim)."""
    frame = inspect.currentframe()
    fallback = None
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if frame.f_code.co_name == "__init__" and isinstance(frame.f_locals.get("self"), BaseOperator):
            frame = frame.f_back  # an operator class of the DAG file: its caller made the task
            continue
        if name == STATE.path:
            return "%s:%d" % (name, frame.f_lineno)
        if fallback is None and not name.startswith(SHIM_DIR) and not name.startswith("<"):
            fallback = "%s:%d" % (name, frame.f_lineno)
        frame = frame.f_back
    return fallback or STATE.path + ":0"


KEY_REGEX = re.compile(r"^[\w.-]+$")


def validate_key(key, what):
    """Airflow's check of a task or group id: it refuses the file as Airflow would, so that
    no id can carry quotes or new lines into the written YAML or Python."""
    if not isinstance(key, str):
        raise TypeError("%s id must be a string, got %r" % (what, key))
    if len(key) > 250 or not KEY_REGEX.match(key):
        raise AirflowException("The key %r has to be made of alphanumeric characters, dashes, "
                               "dots and underscores exclusively (at most 250)" % key[:300])


# ---------------------------------------------------------------- values


def encode(value, depth=0):
    """A JSON-safe form of a value; types JSON lacks become {"__kind__": ...}."""
    if depth > 50:
        return {"__kind__": "repr", "repr": "<too deep>"}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"__kind__": "repr", "repr": repr(value)}
        return value
    if isinstance(value, XComArg):
        j = {"__kind__": "xcomarg", "task_id": value.operator.task_id, "key": value.key}
        if getattr(value, "derived", None):
            j["derived"] = value.derived
        return j
    if isinstance(value, _dt.timedelta):
        return {"__kind__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, _dt.datetime):
        tz = value.tzinfo
        out = {"__kind__": "datetime", "iso": value.isoformat(), "tz": tz_name(tz) if tz else ""}
        if isinstance(value, DaysAgo):
            out["days_ago"] = value.days_ago
        return out
    if isinstance(value, _dt.date):
        return {"__kind__": "datetime", "iso": value.isoformat(), "tz": ""}
    if isinstance(value, Param):
        return {"__kind__": "param", "default": encode(value.default, depth + 1),
                "schema": encode(value.schema, depth + 1), "description": value.description}
    if getattr(type(value), "shim_encode", None) is not None:
        return value.shim_encode(lambda v: encode(v, depth + 1))
    if isinstance(value, Recorded):
        return {"__kind__": "object", "class": type(value).__name__,
                "args": encode(list(value.args), depth + 1), "kwargs": encode(value.kwargs, depth + 1)}
    if hasattr(value, "to_dict") and hasattr(value, "openapi_types"):
        return encode(value.to_dict(), depth + 1)
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [encode(v, depth + 1) for v in items]
    if callable(value):
        out = {"__kind__": "callable", "name": getattr(value, "__name__", repr(value))}
        if out["name"] == "<lambda>" and hasattr(value, "__code__"):
            from sirocco_af_extras import simple_check
            out["check"] = simple_check(value)
        return out
    return {"__kind__": "repr", "repr": repr(value)[:500]}


def tz_name(tz):
    """An IANA name for a tzinfo when it has one."""
    for attr in ("key", "zone", "name"):
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    name = tz.tzname(None) if hasattr(tz, "tzname") else None
    return "UTC" if name in ("UTC", "UTC+00:00", "+00:00") else (name or "")


class Recorded:
    """Any object built from a class the shim only records (k8s models, ...)."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


def recorded_class(name):
    return type(name, (Recorded,), {})


# ---------------------------------------------------------------- DAG


class DAG:
    """Airflow's DAG: a context manager that tasks attach to."""

    def __init__(self, dag_id=None, *args, **kwargs):
        if dag_id is None:
            dag_id = kwargs.pop("dag_display_name", None)
        if args:
            kwargs["description"] = args[0]
        self.dag_id = dag_id
        self.kwargs = kwargs
        self.default_args = dict(kwargs.get("default_args") or {})
        self.params = kwargs.get("params") or {}
        self.tasks = []
        self.task_dict = {}
        self.groups = []
        self.loc = call_site()
        self.callables = []
        self.from_decorator = False
        STATE.dags.append(self)
        self._shim_ready = True

    _shim_attrs = frozenset(("dag_id", "kwargs", "default_args", "params", "tasks", "task_dict", "groups", "loc",
                             "callables", "from_decorator"))

    def __setattr__(self, name, value):
        """`dag.doc_md = __doc__` after the DAG is made is an argument too: converted or reported."""
        if self.__dict__.get("_shim_ready") and name not in self._shim_attrs and not name.startswith("_"):
            self.kwargs[name] = value
        object.__setattr__(self, name, value)

    def __enter__(self):
        STATE.dag_stack.append(self)
        STATE.context_dags.add(id(self))
        return self

    def __exit__(self, *exc):
        STATE.dag_stack.pop()
        return False

    def add_task(self, task):
        if task.task_id in self.task_dict:
            raise DuplicateTaskIdFound("Task id '%s' has already been added to the DAG" % task.task_id)
        self.tasks.append(task)
        self.task_dict[task.task_id] = task

    def get_task(self, task_id):
        return self.task_dict[task_id]

    @property
    def task_ids(self):
        return [t.task_id for t in self.tasks]

    def __repr__(self):
        return "<DAG: %s>" % self.dag_id

    def to_json(self):
        return {
            "dag_id": self.dag_id, "loc": self.loc, "kwargs": encode(self.kwargs),
            "tasks": [t.to_json() for t in self.tasks],
            "groups": [g.to_json() for g in self.groups],
        }


class AirflowException(Exception):
    pass


class DuplicateTaskIdFound(AirflowException):
    pass


class AirflowSkipException(AirflowException):
    pass


class AirflowFailException(AirflowException):
    pass


# ---------------------------------------------------------------- groups


class TaskGroup:
    """Airflow's TaskGroup: prefixes ids and is a unit of dependency."""

    def __init__(self, group_id, prefix_group_id=True, parent_group=None, dag=None,
                 default_args=None, tooltip="", ui_color=None, ui_fgcolor=None, add_suffix_on_collision=False,
                 **kwargs):
        if group_id is not None:
            validate_key(group_id, "TaskGroup")
        self.dag = dag or STATE.current_dag()
        if self.dag is None:
            raise AirflowException("TaskGroup %s is not inside a DAG" % group_id)
        self.parent = parent_group or STATE.current_group()
        self.short_id = group_id
        self.prefix_group_id = prefix_group_id
        self.default_args = dict(default_args or {})
        self.tooltip = tooltip
        self.kwargs = kwargs
        self.children = []
        self.loc = call_site()
        self.dag.groups.append(self)
        if self.parent is not None:
            self.parent.children.append(self)  # its tasks are the parent's too for `group >> x`

    @property
    def group_id(self):
        if self.parent and self.parent.prefix_group_id and self.parent.group_id:
            return self.parent.group_id + "." + self.short_id
        return self.short_id

    def child_id(self, label):
        if self.prefix_group_id:
            return self.group_id + "." + label
        if self.parent:
            return self.parent.child_id(label)
        return label

    def __enter__(self):
        STATE.group_stack.append(self)
        return self

    def __exit__(self, *exc):
        STATE.group_stack.pop()
        return False

    def all_tasks(self):
        out = []
        for c in self.children:
            out.extend(c.all_tasks() if isinstance(c, TaskGroup) else [c])
        return out

    def roots(self):
        mine = self.all_tasks()
        ids = {id(t) for t in mine}
        return [t for t in mine if not any(id(u) in ids for u in t.upstream)]

    def leaves(self):
        mine = self.all_tasks()
        ids = {id(t) for t in mine}
        return [t for t in mine if not any(id(d) in ids for d in t.downstream)]

    def __rshift__(self, other):
        link(self, other)
        return other

    def __lshift__(self, other):
        link(other, self)
        return other

    def __rrshift__(self, other):
        link(other, self)
        return self

    def __rlshift__(self, other):
        link(self, other)
        return self

    def set_downstream(self, other):
        link(self, other)

    def set_upstream(self, other):
        link(other, self)

    def to_json(self):
        return {"group_id": self.group_id, "short_id": self.short_id,
                "parent": self.parent.group_id if self.parent else "",
                "prefix_group_id": self.prefix_group_id, "tooltip": self.tooltip,
                "default_args": encode(self.default_args), "kwargs": encode(self.kwargs), "loc": self.loc}


def leaves_of(x):
    if isinstance(x, TaskGroup):
        return x.leaves()
    if isinstance(x, XComArg):
        return [x.operator]
    if isinstance(x, (list, tuple, set)):
        return [t for y in x for t in leaves_of(y)]
    return [x]


def roots_of(x):
    if isinstance(x, TaskGroup):
        return x.roots()
    if isinstance(x, XComArg):
        return [x.operator]
    if isinstance(x, (list, tuple, set)):
        return [t for y in x for t in roots_of(y)]
    return [x]


def link(up, down):
    """up >> down, with groups resolved to their leaves and roots now, as Airflow does."""
    for u in leaves_of(up):
        for d in roots_of(down):
            if not isinstance(u, BaseOperator) or not isinstance(d, BaseOperator):
                raise TypeError("cannot set a dependency between %r and %r" % (u, d))
            if d not in u.downstream:
                u.downstream.append(d)
                d.upstream.append(u)


def chain(*tasks):
    """Airflow's chain: a >> b >> c; two lists side by side are linked pairwise."""
    for up, down in zip(tasks, tasks[1:]):
        if isinstance(up, (list, tuple)) and isinstance(down, (list, tuple)):
            if len(up) != len(down):
                raise AirflowException("chain: lists of different lengths (%d and %d)" % (len(up), len(down)))
            for u, d in zip(up, down):
                link(u, d)
        else:
            link(up, down)


def cross_downstream(from_tasks, to_tasks):
    for u in from_tasks:
        link(u, to_tasks)


# ---------------------------------------------------------------- operators


class XComArg:
    """A reference to another task's XCom (task.output, a @task call's result)."""

    def __init__(self, operator, key="return_value"):
        self.operator = operator
        self.key = key

    def __getitem__(self, key):
        return XComArg(self.operator, key)

    def __rshift__(self, other):
        link(self.operator, other)
        return other

    def __lshift__(self, other):
        link(other, self.operator)
        return other

    def __rrshift__(self, other):
        link(other, self.operator)
        return self

    def __rlshift__(self, other):
        link(self.operator, other)
        return self

    def set_downstream(self, other):
        link(self.operator, other)

    def set_upstream(self, other):
        link(other, self.operator)

    def __iter__(self):
        raise TypeError("an XComArg is not iterable while the DAG is defined")

    def __str__(self):
        return "{{ ti.xcom_pull(task_ids='%s', key='%s') }}" % (self.operator.task_id, self.key)

    @property
    def output(self):
        return self

    def zip(self, *others):
        return _DerivedXComArg(self, "zip")

    def map(self, fn):
        return _DerivedXComArg(self, "map")


class _DerivedXComArg(XComArg):
    """XComArg.map() or .zip(): a list made from another task's XCom at run time."""

    def __init__(self, source, how):
        XComArg.__init__(self, source.operator, source.key)
        self.derived = how


def xcom_args_in(value, depth=0):
    if depth > 50:
        return []
    if isinstance(value, XComArg):
        return [value]
    if isinstance(value, dict):
        return [x for v in value.values() for x in xcom_args_in(v, depth + 1)]
    if isinstance(value, (list, tuple, set)):
        return [x for v in value for x in xcom_args_in(v, depth + 1)]
    return []


class BaseOperator:
    """Records an operator's class and arguments and its place in the DAG."""

    template_fields = ()
    shim_kind = ""  # "sensor" for sensors

    def __init__(self, task_id=None, dag=None, task_group=None, default_args=None, **kwargs):
        if task_id is None:
            raise TypeError("%s: missing task_id" % type(self).__name__)
        validate_key(task_id, "task")
        self.dag = dag or STATE.current_dag()
        self.group = task_group or STATE.current_group()
        self.label = task_id
        self.task_id = self.group.child_id(task_id) if self.group else task_id
        self.kwargs = kwargs
        self.local_default_args = dict(default_args or {})
        self.upstream = []
        self.downstream = []
        self.callable = None
        self.decorator = ""
        self.mapped = False
        self.mapping = None  # how the task was mapped: {"how": ..., "over": {argument: values}}
        self.loc = getattr(self, "loc", None) or call_site()
        if self.dag is None:
            raise AirflowException("%s %s was created outside a DAG (no `with DAG(...)` and no dag=)"
                                   % (type(self).__name__, task_id))
        if self.group is not None:
            self.group.children.append(self)
        self.dag.add_task(self)
        for x in xcom_args_in(kwargs):
            link(x.operator, self)
        self._shim_ready = True

    _shim_attrs = frozenset(("dag", "group", "label", "task_id", "kwargs", "local_default_args", "upstream",
                             "downstream", "callable", "decorator", "mapped", "mapping", "loc"))

    def __setattr__(self, name, value):
        """`task.retries = 3` after the task is made is an argument too: converted or reported."""
        if self.__dict__.get("_shim_ready") and name not in self._shim_attrs and not name.startswith("_"):
            self.kwargs[name] = value
        object.__setattr__(self, name, value)

    def __rshift__(self, other):
        link(self, other)
        return other

    def __lshift__(self, other):
        link(other, self)
        return other

    def __rrshift__(self, other):
        link(other, self)
        return self

    def __rlshift__(self, other):
        link(self, other)
        return self

    def set_downstream(self, other, edge_modifier=None):
        link(self, other)

    def set_upstream(self, other, edge_modifier=None):
        link(other, self)

    @property
    def output(self):
        return XComArg(self)

    @property
    def upstream_task_ids(self):
        return {t.task_id for t in self.upstream}

    @property
    def downstream_task_ids(self):
        return {t.task_id for t in self.downstream}

    def partial(self, **kwargs):
        return self

    def expand(self, **kwargs):
        self.mapped = True
        self.mapping = {"how": "expand", "over": kwargs, "names": list(kwargs)}
        self.kwargs.update(kwargs)
        return self

    def expand_kwargs(self, arg):
        self.mapped = True
        self.mapping = {"how": "expand_kwargs", "over": {"": arg}}
        return self

    def __repr__(self):
        return "<Task(%s): %s>" % (type(self).__name__, self.task_id)

    def module_name(self):
        mod = getattr(type(self), "shim_module", type(self).__module__)
        return "defined in the DAG file" if mod.startswith("sirocco_dag_file") else mod

    def to_json(self):
        out = {"task_id": self.task_id, "class": type(self).__name__,
               "module": self.module_name(),
               "kind": self.shim_kind, "loc": self.loc,
               "group": self.group.group_id if self.group else "",
               "kwargs": encode(self.kwargs), "default_args": encode(self.local_default_args),
               "upstream": [t.task_id for t in self.upstream], "mapped": self.mapped,
               "mapping": encode(self.mapping),
               "decorator": self.decorator}
        if self.callable is not None:
            out["callable"] = function_source(self.callable)
        elif callable(self.kwargs.get("python_callable")):
            out["callable"] = function_source(self.kwargs["python_callable"])
        return out


class _Partial:
    """What Operator.partial(...) returns until .expand(...)."""

    def __init__(self, cls, kwargs):
        self.cls = cls
        self.kwargs = kwargs
        self.loc = call_site()

    def expand(self, **mapped):
        kw = dict(self.kwargs)
        kw.update(mapped)
        op = self.cls(**kw)
        op.mapped = True
        op.mapping = {"how": "partial().expand", "over": mapped, "names": list(mapped)}
        return op

    def expand_kwargs(self, arg):
        op = self.cls(**self.kwargs)
        op.mapped = True
        op.mapping = {"how": "partial().expand_kwargs", "over": {"": arg}}
        return op


def _partial(cls, **kwargs):
    return _Partial(cls, kwargs)


BaseOperator.partial = classmethod(_partial)


def operator_class(name, module, kind=""):
    """A recording operator class with Airflow's name."""
    return type(name, (BaseOperator,), {"shim_module": module, "shim_kind": kind})


class Connection:
    @staticmethod
    def get_connection_from_secrets(conn_id):
        return Recorded(conn_id=conn_id)
