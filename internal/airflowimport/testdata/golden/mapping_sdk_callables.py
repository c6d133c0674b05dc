"""Python functions of a DAG converted from testdata/airflow/mapping_sdk.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json


def commands():
    return ["echo one", "echo two", "echo three"]


def greet(name, greeting="hello"):
    print(f"{greeting} {name}")
    return f"{greeting} {name}"


def base():
    return 100


def shift(offset, x):
    return offset + x


def _shift_task(*args, **kwargs):
    """Task shift: XCom arguments arrive as JSON text."""
    return _sirocco_call(shift, [], ["offset"], args, kwargs)


def _sirocco_call(fn, json_args, json_kwargs, args, kwargs):
    """Decodes the JSON arguments and calls fn with the context values it names."""
    args = [json.loads(a) if i in json_args and isinstance(a, str) else a for i, a in enumerate(args)]
    for k in json_kwargs:
        if isinstance(kwargs.get(k), str):
            kwargs[k] = json.loads(kwargs[k])
    params = inspect.signature(fn).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)
