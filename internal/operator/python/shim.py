# Sirocco's python callable shim: runs one function of a python task in the
# task's own interpreter. Sirocco writes it to a private folder and runs
#     python -u <this file> <call file>
# The call file (JSON, mode 0600) holds the callable, op_args, op_kwargs and
# the context; it is removed as soon as it is read. The outcome goes to the
# result file the call names, never to stdout, so that what the function
# prints reaches the task's log unchanged and cannot pass for its result.
# Python 3.8 or later; nothing here may need a newer one.
import datetime
import inspect
import json
import os
import sys
import traceback
import types

# Airflow context keys Sirocco does not pass (yet): a function that needs
# one is told so instead of getting a bare TypeError.
NOT_PASSED = (
    "ti", "task_instance", "task", "dag", "conf", "var", "macros", "conn",
    "execution_date", "prev_ds", "next_ds", "prev_data_interval_start_success",
    "prev_data_interval_end_success", "prev_start_date_success", "prev_end_date_success",
    "inlets", "outlets", "map_index", "test_mode",
)

# The context values that are dates, passed as ISO text.
DATES = ("logical_date", "data_interval_start", "data_interval_end")


class CallError(Exception):
    """A failure of the call itself, reported without a traceback."""


def write_result(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def user_traceback(exc):
    """Prints exc's traceback without the shim's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    sys.stderr.flush()


def describe(exc):
    return "%s: %s" % (type(exc).__name__, exc)


def import_module(name, dag_dir):
    try:
        __import__(name)  # the import statement's path: importlib frames hidden
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            raise CallError("cannot import module %r: %s (looked in the DAG folder %s first, then in "
                            "the sys.path of %s)" % (name, e, dag_dir, sys.executable))
        user_traceback(e)
        raise CallError("importing module %r failed: %s" % (name, describe(e)))
    except Exception as e:
        user_traceback(e)
        raise CallError("importing module %r failed: %s" % (name, describe(e)))
    return sys.modules[name]


def resolve(module, name):
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = getattr(module, "__file__", None) or module.__name__
            raise CallError("%r has no attribute %r (module file %s)"
                            % (getattr(obj, "__name__", obj), part, where))
    if not callable(obj):
        raise CallError("%s is of type %s, not a function" % (name, type(obj).__name__))
    return obj


def keyword_args(fn, args, op_kwargs, context):
    """op_kwargs, and the context keys fn takes by name, as Airflow's
    determine_kwargs: all of them when fn has **kwargs."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature
        return dict(op_kwargs), None
    params = sig.parameters
    names = list(params)
    for name in names[:len(args)]:
        if name in op_kwargs or name in context:
            raise CallError("the key %r in op_args is a part of op_kwargs or the context and "
                            "therefore reserved (as in Airflow)" % name)
    wildcard = any(p.kind == p.VAR_KEYWORD for p in params.values())
    kwargs = dict(op_kwargs)
    for key, value in context.items():
        if key in kwargs:
            continue
        p = params.get(key)
        if wildcard or (p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)):
            kwargs[key] = value
    return kwargs, sig


def check_binding(sig, args, kwargs, context):
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        bound = set(kwargs) | set(list(sig.parameters)[:len(args)])
        missing = [n for n, p in sig.parameters.items()
                   if n not in bound and p.default is p.empty
                   and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        hint = ""
        absent = [n for n in missing if n in NOT_PASSED]
        if absent:
            hint = (" (%s: Sirocco does not pass %s to a callable; it passes %s; give what the "
                    "function needs in op_kwargs, e.g. \"{{ var.value.name }}\")"
                    % (", ".join(absent), "it" if len(absent) == 1 else "them", ", ".join(sorted(context))))
            if "conf" in absent:
                hint += " (conf is Airflow's configuration; the run's conf is dag_run.conf)"
        # Names, not values: the values may hold secrets.
        raise CallError("cannot call it with %d positional argument(s) (op_args) and the keyword "
                        "arguments %s: %s%s" % (len(args), json.dumps(sorted(kwargs)), e, hint))


def with_dates(values):
    values = dict(values)
    for name in DATES:
        if name in values:
            values[name] = datetime.datetime.fromisoformat(values[name])
    return values


def context_of(call):
    ctx = with_dates(call.get("context") or {})
    if "dag_run" in ctx:
        ctx["dag_run"] = types.SimpleNamespace(**with_dates(ctx["dag_run"]))
    ctx["templates_dict"] = call.get("templates_dict")
    return ctx


def check_outputs(value):
    """Airflow's multiple_outputs rule: a dict with string keys."""
    if not isinstance(value, dict):
        raise CallError("multiple_outputs: it returned a value of type %s, expected a dict"
                        % type(value).__name__)
    for key in value:
        if not isinstance(key, str):
            raise CallError("multiple_outputs: the returned dict's keys must be strings, "
                            "found %r (%s)" % (key, type(key).__name__))


def check_text(text, where):
    """Refuses a lone surrogate (what os.fsdecode or errors="surrogateescape"
    make of undecodable bytes): it is no Unicode text, and the result file's
    reader would turn it into U+FFFD without a word."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise CallError("%s holds a lone surrogate (%s at character %d), which is not text: "
                        "it comes from undecodable bytes (os.fsdecode, errors='surrogateescape'); "
                        "decode them with errors='replace' or return them base64-encoded"
                        % (where, ascii(e.object[e.start:e.end]), e.start))


def encode(value, multiple_outputs=False):
    if value is None:
        return {"kind": "none"}
    if multiple_outputs:
        check_outputs(value)
    if isinstance(value, str):
        check_text(value, "its returned string")
        return {"kind": "str", "text": value}
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise CallError("its return value (a %s) is not JSON serialisable: %s"
                        % (type(value).__name__, e))
    check_text(text, "the JSON of its return value (a %s)" % type(value).__name__)
    return {"kind": "json", "text": text}


def main():
    call_path = sys.argv[1]
    with open(call_path, encoding="utf-8") as f:
        call = json.load(f)
    os.remove(call_path)
    result_path = call["result"]
    spec = "%s:%s" % (call["module"], call["function"])
    dag_dir = call["dag_dir"]
    # The shim's folder is not the user's: the DAG file's folder comes first.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.path.insert(0, dag_dir)
    sys.argv = [spec]
    try:
        fn = resolve(import_module(call["module"], dag_dir), call["function"])
        args = call.get("op_args") or []
        context = context_of(call)
        kwargs, sig = keyword_args(fn, args, call.get("op_kwargs") or {}, context)
        check_binding(sig, args, kwargs, context)
        try:
            value = fn(*args, **kwargs)
        except Exception as e:
            user_traceback(e)
            raise CallError("raised " + describe(e))
        result = encode(value, call.get("multiple_outputs"))
    except CallError as e:
        write_result(result_path, {"kind": "error", "text": str(e)})
        sys.exit(1)
    sys.stdout.flush()
    write_result(result_path, result)


if __name__ == "__main__":
    main()
