"""Python functions of a DAG converted from testdata/airflow/mapping_taskflow.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json


def add(x: int, y: int):
    return x + y


def total(values):
    print(sum(values))
    return sum(values)


def make_pairs():
    return [{"x": 1, "y": 2}, {"x": 10, "y": 20}]


def _total_task(*args, **kwargs):
    """Task total: XCom arguments arrive as JSON text."""
    return _sirocco_call(total, [0], [], args, kwargs)


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
