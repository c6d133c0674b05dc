"""Airflow's decorators (@dag, @task, @task_group) on top of sirocco_af_core."""
import functools
import inspect

from sirocco_af_core import (BaseOperator, DAG, TaskGroup, XComArg, call_site)
import sirocco_af_core as core


class DecoratedOperator(BaseOperator):
    """A task made by calling a @task function: the function and its arguments."""
    shim_module = "airflow.decorators"


def _unique_task_id(dag, group, task_id):
    full = group.child_id(task_id) if group else task_id
    if full not in dag.task_dict:
        return task_id
    n = 1
    while True:
        cand = "%s__%d" % (task_id, n)
        if (group.child_id(cand) if group else cand) not in dag.task_dict:
            return cand
        n += 1


class _TaskFunction:
    """A @task function: calling it inside a DAG adds a task and returns its XComArg."""

    def __init__(self, fn, kind, kwargs):
        self.function = fn
        self.kind = kind
        self.kwargs = kwargs
        functools.update_wrapper(self, fn)

    def override(self, **kwargs):
        kw = dict(self.kwargs)
        kw.update(kwargs)
        return _TaskFunction(self.function, self.kind, kw)

    def _make(self, args, kwargs, mapped=None):
        dag = self.kwargs.get("dag") or core.STATE.current_dag()
        if dag is None:
            raise core.AirflowException("@%s function %s called outside a DAG" % (self.kind, self.function.__name__))
        group = core.STATE.current_group()
        kw = {k: v for k, v in self.kwargs.items() if k != "dag"}
        task_id = _unique_task_id(dag, group, kw.pop("task_id", self.function.__name__))
        if "multiple_outputs" not in kw and _returns_dict(self.function):
            kw["multiple_outputs"] = True  # Airflow infers it from a dict return annotation
        kw["op_args"] = list(args)
        kw["op_kwargs"] = dict(kwargs)
        op = DecoratedOperator(task_id=task_id, dag=dag, **kw)
        op.callable = self.function
        op.decorator = self.kind
        op.mapped = mapped is not None
        op.mapping = mapped
        return XComArg(op)

    def __call__(self, *args, **kwargs):
        return self._make(args, kwargs)

    def partial(self, **kwargs):
        return _PartialTask(self, kwargs)

    def expand(self, **kwargs):
        return self._make((), kwargs, mapped={"how": "expand", "over": kwargs, "names": list(kwargs)})

    def expand_kwargs(self, arg):
        return self._make((), {}, mapped={"how": "expand_kwargs", "over": {"": arg}})


class _PartialTask:
    def __init__(self, tf, kwargs):
        self.tf = tf
        self.kwargs = kwargs

    def expand(self, **kwargs):
        kw = dict(self.kwargs)
        kw.update(kwargs)
        return self.tf._make((), kw, mapped={"how": "partial().expand", "over": kwargs, "names": list(kwargs)})

    def expand_kwargs(self, arg):
        return self.tf._make((), dict(self.kwargs), mapped={"how": "partial().expand_kwargs", "over": {"": arg}})


def _returns_dict(fn):
    try:
        ann = inspect.signature(fn).return_annotation
    except (TypeError, ValueError):
        return False
    if isinstance(ann, str):
        return ann.split("[")[0] in ("dict", "Dict", "typing.Dict")
    return ann is dict or getattr(ann, "__origin__", None) is dict


def _decorator(kind):
    def deco(python_callable=None, **kwargs):
        if python_callable is not None and callable(python_callable) and not kwargs:
            return _TaskFunction(python_callable, kind, {})

        def wrap(fn):
            return _TaskFunction(fn, kind, kwargs)
        if python_callable is not None:
            return wrap(python_callable)
        return wrap
    return deco


class _TaskDecorator:
    """`task` and its variants: task.branch, task.short_circuit, task.bash ..."""

    def __call__(self, python_callable=None, **kwargs):
        return _decorator("task")(python_callable, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _decorator("task." + name)


task = _TaskDecorator()


def dag(dag_id=None, **dag_kwargs):
    """@dag: calling the function builds the DAG; its arguments become params."""
    if callable(dag_id) and not dag_kwargs:
        return dag()(dag_id)

    def wrap(fn):
        @functools.wraps(fn)
        def factory(*args, **kwargs):
            kw = dict(dag_kwargs)
            params = dict(kw.get("params") or {})
            call_args = {}
            for name, p in inspect.signature(fn).parameters.items():
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                if p.default is not p.empty and name not in params:
                    params[name] = p.default
                call_args[name] = "{{ params.%s }}" % name
            if params:
                kw["params"] = params
            d = DAG(dag_id or fn.__name__, **kw)
            d.loc = call_site()
            d.from_decorator = True
            if fn.__doc__ and "doc_md" not in kw and "description" not in kw:
                d.kwargs["description"] = inspect.cleandoc(fn.__doc__).splitlines()[0]
            with d:
                fn(**call_args)
            return d
        return factory
    return wrap


def task_group(group_id=None, **tg_kwargs):
    """@task_group: calling the function builds a TaskGroup around what it adds."""
    if callable(group_id) and not tg_kwargs:
        return task_group()(group_id)

    def wrap(fn):
        @functools.wraps(fn)
        def factory(*args, **kwargs):
            gid = group_id or fn.__name__
            dag = core.STATE.current_dag()
            parent = core.STATE.current_group()
            if dag is not None:
                existing = {g.group_id for g in dag.groups}
                base, n = gid, 1
                while (parent.child_id(gid) if parent and parent.prefix_group_id else gid) in existing:
                    gid = "%s__%d" % (base, n)
                    n += 1
            with TaskGroup(gid, **tg_kwargs) as g:
                ret = fn(*args, **kwargs)
            return ret if ret is not None else g
        factory.expand = lambda **kw: _mapped_group(factory, kw)
        factory.partial = lambda **kw: _PartialGroup(factory, kw)
        factory.override = lambda **kw: task_group(**dict(tg_kwargs, **kw))(fn)
        return factory
    return wrap


def _mapped_group(factory, kwargs):
    g = factory(**kwargs)
    for t in (g.all_tasks() if isinstance(g, TaskGroup) else []):
        t.mapped = True
        t.mapping = {"how": "task_group.expand", "over": kwargs, "group": g.group_id}
    return g


class _PartialGroup:
    def __init__(self, factory, kwargs):
        self.factory = factory
        self.kwargs = kwargs

    def expand(self, **kwargs):
        return _mapped_group(self.factory, dict(self.kwargs, **kwargs))
