"""The `airflow` module tree (and pendulum, kubernetes.client when absent),
made on import from one table, so that any documented import path works."""
import datetime as _dt
import importlib.abc
import importlib.machinery
import sys
import types

import sirocco_af_core as core
import sirocco_af_api as api
import sirocco_af_extras as extras

_classes = {}


def op(name, module="airflow", kind=""):
    """One recording class per operator name, whatever path imports it."""
    if name not in _classes:
        if kind == "" and (name.endswith("Sensor") or name == "BaseSensorOperator"):
            kind = "sensor"
        _classes[name] = core.operator_class(name, module, kind)
    return _classes[name]


_COMMON = {
    "DAG": core.DAG, "BaseOperator": core.BaseOperator, "Param": core.Param, "ParamsDict": core.ParamsDict,
    "Variable": core.Variable, "TaskGroup": core.TaskGroup, "XComArg": core.XComArg,
    "chain": core.chain, "cross_downstream": core.cross_downstream,
    "dag": api.dag, "task": api.task, "task_group": api.task_group,
    "Asset": extras.Asset, "Dataset": extras.Asset, "AssetAll": extras.AssetAll, "AssetAny": extras.AssetAny,
    "DatasetAll": extras.AssetAll, "DatasetAny": extras.AssetAny, "DeadlineReference": extras.DeadlineReference, "Connection": core.Connection, "Label": lambda *a, **k: None,
    "TriggerRule": core.TriggerRule, "days_ago": core.days_ago,
    "DagRunState": core.DagRunState, "State": core.RunState, "TaskInstanceState": core.RunState,
    "AirflowException": core.AirflowException, "AirflowSkipException": core.AirflowSkipException,
    "AirflowFailException": core.AirflowFailException, "DuplicateTaskIdFound": core.DuplicateTaskIdFound,
    "get_current_context": lambda: {},
}

# module -> names it defines (from _COMMON, or operator classes by name)
_MODULES = {
    "airflow": ["DAG", "Dataset", "Asset"],
    "airflow.models": ["DAG", "BaseOperator", "Param", "Variable", "XComArg", "Connection"],
    "airflow.models.dag": ["DAG"],
    "airflow.models.baseoperator": ["BaseOperator", "chain", "cross_downstream"],
    "airflow.models.param": ["Param", "ParamsDict"],
    "airflow.models.variable": ["Variable"],
    "airflow.models.xcom_arg": ["XComArg"],
    "airflow.models.connection": ["Connection"],
    "airflow.decorators": ["dag", "task", "task_group"],
    "airflow.sdk": ["DAG", "dag", "task", "task_group", "TaskGroup", "chain", "cross_downstream", "Asset",
                    "AssetAll", "AssetAny", "DeadlineReference",
                    "BaseOperator", "Param", "Variable", "Label", "get_current_context", "XComArg", "Connection"],
    "airflow.sdk.definitions.asset": ["Asset", "AssetAll", "AssetAny"],
    "airflow.sdk.definitions.deadline": ["DeadlineReference"],
    "airflow.models.deadline": ["DeadlineReference"],
    "airflow.datasets": ["Dataset", "DatasetAll", "DatasetAny"],
    "airflow.utils.task_group": ["TaskGroup"],
    "airflow.utils.edgemodifier": ["Label"],
    "airflow.utils.helpers": ["chain", "cross_downstream"],
    "airflow.utils.dates": ["days_ago"],
    "airflow.utils.trigger_rule": ["TriggerRule"],
    "airflow.utils.state": ["DagRunState", "State", "TaskInstanceState"],
    "airflow.operators.python": ["get_current_context"],
    "airflow.exceptions": ["AirflowException", "AirflowSkipException", "AirflowFailException", "DuplicateTaskIdFound"],
}


def _is_class_name(name):
    return name[:1].isupper() and not name.isupper()


class _AirflowModule(types.ModuleType):
    """A module of the tree: known names from the table, any other class name recorded."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name.endswith(("Operator", "Sensor")):
            cls = op(name, self.__name__)
            setattr(self, name, cls)
            return cls
        if name in extras.NOTIFIER_FUNCTIONS:
            return extras.notifier_function(name)
        if _is_class_name(name):
            cls = core.recorded_class(name)
            setattr(self, name, cls)
            return cls
        raise AttributeError("module %r has no attribute %r (sirocco's Airflow shim)" % (self.__name__, name))


class _Loader(importlib.abc.Loader):
    def __init__(self, factory):
        self.factory = factory

    def create_module(self, spec):
        return self.factory(spec.name)

    def exec_module(self, module):
        pass


def _make_airflow(name):
    m = _AirflowModule(name)
    m.__path__ = []
    for attr in _MODULES.get(name, []):
        setattr(m, attr, _COMMON[attr])
    if name == "airflow":
        m.__version__ = "2.10.0+sirocco-shim"
    return m


class AirflowFinder(importlib.abc.MetaPathFinder):
    """Serves every airflow.* module, ahead of any installed Airflow."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "airflow" or fullname.startswith("airflow."):
            return importlib.machinery.ModuleSpec(fullname, _Loader(_make_airflow), is_package=True)
        return None


# ---------------------------------------------------------------- fallbacks


def _zone(name):
    if isinstance(name, _dt.tzinfo):
        return name
    if name in (None, "UTC", "utc", "Z"):
        return _dt.timezone.utc
    from zoneinfo import ZoneInfo
    return ZoneInfo(name)


def _make_pendulum(name):
    m = types.ModuleType(name)
    m.__path__ = []
    m.UTC = _dt.timezone.utc
    m.datetime = lambda year, month=1, day=1, hour=0, minute=0, second=0, microsecond=0, tz="UTC", **kw: \
        _dt.datetime(year, month, day, hour, minute, second, microsecond, tzinfo=_zone(tz))
    m.duration = lambda **kw: _dt.timedelta(days=kw.pop("days", 0) + 7 * kw.pop("weeks", 0), **kw)
    m.timezone = _zone
    m.now = lambda tz="UTC": _dt.datetime.now(_zone(tz))
    m.today = lambda tz="UTC": m.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    m.yesterday = lambda tz="UTC": m.today(tz) - _dt.timedelta(days=1)
    m.parse = lambda s, tz="UTC", **kw: _dt.datetime.fromisoformat(s).replace(
        tzinfo=_dt.datetime.fromisoformat(s).tzinfo or _zone(tz))
    m.DateTime = _dt.datetime
    m.Duration = _dt.timedelta
    return m


def _make_recording(name):
    m = _AirflowModule(name)
    m.__path__ = []
    if name == "kubernetes.client":
        m.models = m
    return m


class FallbackFinder(importlib.abc.MetaPathFinder):
    """pendulum and kubernetes.client when they are not installed (last on sys.meta_path)."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "pendulum":
            return importlib.machinery.ModuleSpec(fullname, _Loader(_make_pendulum), is_package=True)
        if fullname in ("kubernetes", "kubernetes.client", "kubernetes.client.models"):
            return importlib.machinery.ModuleSpec(fullname, _Loader(_make_recording), is_package=True)
        return None


def install():
    sys.meta_path.insert(0, AirflowFinder())
    sys.meta_path.append(FallbackFinder())
