"""Runs Airflow DAG files against the shim and prints what they define.

Input (stdin): {"files": ["/abs/dag.py", ...], "timeout": seconds}.
Output (stdout): one JSON object per file and line:
  {"file": ..., "dags": [...], "error": {"message", "loc", "traceback"}}.
What the DAG files print goes to stderr.
"""
import hashlib
import importlib.util
import json
import os
import signal
import sys
import traceback

import sirocco_af_core as core
import sirocco_af_modules as modules


class FileTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise FileTimeout("the file did not finish defining its DAGs in time (an endless loop?)")


def error_loc(exc, path):
    """FILE:LINE in the DAG file where it failed (else the innermost frame outside the shim)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return "%s:%s" % (exc.filename, exc.lineno or 0)
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if os.path.abspath(fr.filename) == path:
            return "%s:%d" % (fr.filename, fr.lineno)
    for fr in reversed(frames):
        if not os.path.abspath(fr.filename).startswith(core.SHIM_DIR) and not fr.filename.startswith("<"):
            return "%s:%d" % (fr.filename, fr.lineno)
    return path + ":0"


def user_traceback(exc):
    """The traceback without the shim's and importlib's frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(core.SHIM_DIR) and not f.filename.startswith("<")]
    return ("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
            + "".join(traceback.format_exception_only(type(exc), exc)))


def load(path):
    state = core.reset(path)
    name = "sirocco_dag_file_" + hashlib.sha1(path.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s as a Python module" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
        sys.modules.pop(name, None)
    found = {id(v) for v in vars(module).values() if isinstance(v, core.DAG)}
    dags = [d for d in state.dags if id(d) in found or id(d) in state.context_dags or d.from_decorator]
    airflow3 = uses_sdk(path)
    return [dict(d.to_json(), airflow3=airflow3) for d in dags]


def uses_sdk(path):
    """Whether the file imports Airflow 3's airflow.sdk (whose defaults differ from Airflow 2's)."""
    try:
        with open(path, "rb") as f:
            return b"airflow.sdk" in f.read()
    except OSError:
        return False


def convert(path, timeout):
    path = os.path.abspath(path)
    out = {"file": path, "dags": []}
    signal.alarm(timeout)
    try:
        out["dags"] = load(path)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit too: one file must not stop the others
        out["error"] = {"message": "%s: %s" % (type(e).__name__, e), "loc": error_loc(e, path),
                        "traceback": user_traceback(e)[-4000:]}
    finally:
        signal.alarm(0)
    return out


def main():
    if sys.version_info < (3, 9):
        sys.exit("sirocco dags import-airflow needs Python 3.9 or later; this is %s (use --python)" % sys.version.split()[0])
    req = json.load(sys.stdin)
    # The results go to a copy of stdout; fd 1 itself becomes stderr, so that what a DAG
    # file writes there (os.system, a subprocess, sys.__stdout__) cannot break the stream.
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.setrecursionlimit(3000)
    signal.signal(signal.SIGALRM, _alarm)
    modules.install()
    for f in req["files"]:
        res = convert(f, int(req.get("timeout") or 30))
        try:
            line = json.dumps(res, sort_keys=True)
        except (TypeError, ValueError) as e:
            line = json.dumps({"file": res["file"], "dags": [],
                               "error": {"message": "cannot encode what the file defines: %s" % e, "loc": res["file"] + ":0"}})
        real_stdout.write(line + "\n")
        real_stdout.flush()


if __name__ == "__main__":
    main()
