"""The source of a DAG file's Python functions, for <dag_id>_callables.py:
a def without its decorators (a lambda made a def), and the module-level
names it reads (imports, literal constants, other functions)."""
import ast
import inspect
import textwrap


_parsed = {}


def lambda_node(fn):
    """The ast.Lambda of a lambda, from its file's syntax tree, with the file's text in
    .source_text; None when it is not found or another lambda on its line takes the same
    parameters."""
    path = inspect.getsourcefile(fn)
    if path not in _parsed:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        _parsed[path] = (text, ast.parse(text))
    text, tree = _parsed[path]
    code = fn.__code__
    names = list(code.co_varnames[:code.co_argcount])
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno
             and [a.arg for a in node.args.args] == names]
    if len(found) != 1:
        return None  # none, or two lambdas alike on one line: which one is unknown
    found[0].source_text = text
    return found[0]


def lambda_source(fn):
    """A lambda as a def named after its line."""
    node = lambda_node(fn)
    line = fn.__code__.co_firstlineno
    if node is None:
        return {"name": "lambda", "error": "lambda at line %d not found in its file, or not alone there" % line}
    name = "lambda_line_%d" % line
    src = "def %s(%s):\n    return %s\n" % (name, ast.unparse(node.args), ast.get_source_segment(node.source_text, node.body))
    return {"name": name, "source": src, "globals": needed_globals(fn, ast.parse(src).body[0])}


def function_source(fn):
    """The function's source without its decorators, and the names it uses."""
    fn = inspect.unwrap(fn)
    if getattr(fn, "__name__", "") == "<lambda>":
        try:
            return lambda_source(fn)
        except (OSError, TypeError, SyntaxError) as e:
            return {"name": "lambda", "error": "no source: %s" % e}
    try:
        lines, _ = inspect.getsourcelines(fn)
    except (OSError, TypeError) as e:
        return {"name": getattr(fn, "__name__", "?"), "error": "no source: %s" % e}
    src = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(src)
    except SyntaxError as e:
        return {"name": fn.__name__, "error": "source does not parse alone: %s" % e}
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {"name": fn.__name__, "error": "not a def (a lambda?)"}
    body = src.splitlines(True)[node.lineno - 1:]
    return {"name": fn.__name__, "source": "".join(body), "globals": needed_globals(fn, node),
            "params": parameter_names(fn)}


def parameter_names(fn):
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def needed_globals(fn, node):
    """Module-level imports and plain constants the function reads."""
    node.decorator_list = []
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    used |= {n.value.id for n in ast.walk(node)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    scope = dict(getattr(fn, "__globals__", {}))
    try:
        scope.update(inspect.getclosurevars(fn).nonlocals)
    except (TypeError, ValueError):
        pass
    out = {}
    for name in sorted(used):
        if name not in scope or name in dir(__builtins__) and name not in scope:
            continue
        value = scope[name]
        if inspect.ismodule(value):
            out[name] = {"import": value.__name__}
        elif isinstance(value, (str, int, float, bool, list, dict, tuple, type(None))):
            try:
                if ast.literal_eval(repr(value)) == value:
                    out[name] = {"literal": repr(value)}
                    continue
            except (ValueError, SyntaxError, RecursionError):
                pass
            out[name] = {"unknown": type(value).__name__}
        elif inspect.isfunction(value) and value is not fn:
            out[name] = {"function": function_source(value)}
        elif inspect.isclass(value) or callable(value):
            mod = getattr(value, "__module__", None) or ""
            if mod and not mod.startswith(("airflow", "sirocco_af", "__main__", "pendulum")) \
                    and mod != "sirocco_dag_file":
                out[name] = {"from": mod, "name": getattr(value, "__name__", name)}
            else:
                out[name] = {"unknown": type(value).__name__}
        else:
            out[name] = {"unknown": type(value).__name__}
    return out
