"""sandboxd's Python runtime.

Loaded once in a zygote (sandboxd's own process), where it imports the
libraries every script may use; each child then calls run() with the
request.  The full zygote has numpy and pandas, the lite one numpy, the
base one neither (_sbx.NUMPY and _sbx.PANDAS say which): a script in a
lighter child that imports anything not loaded there is sent on to a full
child before any of it runs.  The script's only door out is mcp_client, which speaks frames
through the C module _sbx.  The answer is serialised here, inside the
child: the parent only ever sees JSON text, never a live Python object.

Nothing here is a security boundary; the kernel is (see sbx_child.c).
"""

import array
import ast
import builtins
import gc
import io
import json
import linecache
import math
import os
import random
import sys
import time
import traceback
import types

import _sbx

if _sbx.NUMPY:
    import numpy
    import numpy.linalg  # noqa: F401
    import numpy.random  # noqa: F401
    import numpy.fft  # noqa: F401
else:
    numpy = None

if _sbx.PANDAS:
    import pandas
    # pandas loads these lazily, on first use; load them now so that a
    # child never needs to open a file after its limits are on
    import pandas.core.resample  # noqa: F401
    import pandas.io.formats.csvs  # noqa: F401
    import pandas.io.formats.format  # noqa: F401
    import pandas.io.formats.info  # noqa: F401
    import pandas.io.formats.printing  # noqa: F401
    import pandas.io.formats.string  # noqa: F401
    import pandas.io.json  # noqa: F401
    import pandas.io.parsers  # noqa: F401
    import pandas.core.window  # noqa: F401
    import pandas.core.groupby  # noqa: F401
    import pandas.tseries.offsets  # noqa: F401
else:
    pandas = None

# the standard library a script may use: imported here, because a child
# can open no file to import anything later
import bisect  # noqa: F401
import calendar  # noqa: F401
import collections  # noqa: F401
import copy  # noqa: F401
import csv  # noqa: F401
import dataclasses  # noqa: F401
import datetime  # noqa: F401
import decimal  # noqa: F401
import enum  # noqa: F401
import fractions  # noqa: F401
import functools  # noqa: F401
import heapq  # noqa: F401
import itertools  # noqa: F401
import numbers  # noqa: F401
import operator  # noqa: F401
import re  # noqa: F401
import statistics  # noqa: F401
import string  # noqa: F401
import textwrap  # noqa: F401
import typing  # noqa: F401
import zoneinfo  # noqa: F401

import sbx_validate

VERSIONS = "python %d.%d.%d, %s, %s" % (
    sys.version_info[0], sys.version_info[1], sys.version_info[2],
    "numpy " + numpy.__version__ if numpy else "no numpy",
    "pandas " + pandas.__version__ if pandas else "no pandas")

STDOUT_LIMIT = 1024 * 1024
PROGRESS_LIMIT = 1024
MAX_DEPTH = 64


class McpError(Exception):
    """A tool answered with an error (isError), or could not be reached."""

    def __init__(self, tool, code, message):
        super().__init__("%s: %s" % (tool, message))
        self.tool = tool
        self.code = code
        self.message = message


def _plain(value, depth=0):
    """Python and numpy/pandas values as plain JSON values; NaN is null."""
    if depth > MAX_DEPTH:
        raise ValueError("the result is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if numpy is not None and isinstance(value, numpy.generic):
        return _plain(value.item(), depth + 1)
    if numpy is not None and isinstance(value, numpy.ndarray):
        return _plain(value.tolist(), depth + 1)
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return _plain(value.reset_index().to_dict(orient="records"), depth + 1)
    if pandas is not None and isinstance(value, pandas.Series):
        return _plain(value.to_dict(), depth + 1)
    # pandas.Timestamp is a datetime.datetime
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _plain(float(value), depth + 1)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_plain(v, depth + 1) for v in sorted(value, key=repr)]
    raise TypeError("a %s cannot be part of the answer"
                    % type(value).__name__)


def _call(name, args=None):
    """Call an MCP tool; returns its structuredContent."""
    if not isinstance(name, str) or not name:
        raise TypeError("mcp_client.call: the tool name must be a string")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise TypeError("mcp_client.call: the arguments must be a dict")
    frame = json.dumps({"t": "call", "name": name, "args": _plain(args)},
                       allow_nan=False).encode()
    reply = json.loads(_sbx.request(frame))
    if reply.get("ok"):
        return reply.get("value")
    raise McpError(name, reply.get("code") or "MCP_TOOL_ERROR",
                   reply.get("message") or "the tool failed")


def _progress(step):
    """Report a step; a timeout then says how far the script got.

    sandboxd ends a child whose progress frame is over PROGRESS_LIMIT bytes:
    a step that escapes long (\\uXXXX for each character) is shortened.
    """
    text = str(step)[:200]
    frame = json.dumps({"t": "progress", "step": text}).encode()
    while len(frame) > PROGRESS_LIMIT:
        text = text[:len(text) // 2]
        frame = json.dumps({"t": "progress", "step": text}).encode()
    _sbx.send(frame)


mcp_client = types.ModuleType("mcp_client")
mcp_client.call = _call
mcp_client.progress = _progress
mcp_client.McpError = McpError
sys.modules["mcp_client"] = mcp_client


class _CappedText(io.TextIOBase):
    """print() output, kept up to a limit, then only counted."""

    def __init__(self, limit):
        self.parts = []
        self.size = 0
        self.limit = limit
        self.truncated = False

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        if len(s) > room:
            self.truncated = True
        return len(s)

    def getvalue(self):
        return "".join(self.parts)


def _failure(code, text, **details):
    return {"t": "error", "code": code, "message": text,
            "details": _plain(details)}


def _script_line(tb):
    line = None
    frames = traceback.StackSummary.extract(traceback.walk_tb(tb),
                                            lookup_lines=False)
    for frame in frames:
        if frame.filename == "<script>":
            line = frame.lineno
    return line


def _apply_params(tree, params):
    """Re-run with other values: PARAMS.update(params) after PARAMS = ..."""
    for i, node in enumerate(tree.body):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "PARAMS"):
            update = ast.parse("PARAMS.update(__sbx_params__)").body[0]
            ast.copy_location(update, node)
            ast.fix_missing_locations(update)
            tree.body.insert(i + 1, update)
            return True
    return False


def _answer(result):
    """The contract's {description, body: [{key, value, description}]}."""
    if (isinstance(result, dict) and "body" in result
            and isinstance(result["body"], list)):
        rows = []
        for i, row in enumerate(result["body"]):
            if isinstance(row, dict) and "key" in row:
                rows.append({"key": str(row["key"]),
                             "value": _plain(row.get("value")),
                             "description": str(row.get("description", ""))})
            else:
                rows.append({"key": "item_%d" % (i + 1), "value": _plain(row),
                             "description": ""})
        return {"description": str(result.get("description", "Result")),
                "body": rows}
    if isinstance(result, dict):
        return {"description": "Result",
                "body": [{"key": str(k), "value": _plain(v), "description": ""}
                         for k, v in result.items()]}
    return {"description": "Result",
            "body": [{"key": "result", "value": _plain(result),
                      "description": ""}]}


_WARM_SCRIPT = """
PARAMS = {"symbol": "X", "n": 2}
rows = [{"key": k, "value": v * 1.5} for k, v in PARAMS.items() if v != "X"]
result = {"description": f"{PARAMS['symbol']}", "body": rows}
"""


# the full zygote's share when the lighter ones run the rest: pandas's
# usual, rehearsed
_WARM_PANDAS = """
import pandas as pd
s = pd.Series([float(i % 17) for i in range(300)], dtype=float)
df = pd.DataFrame({"close": s, "volume": s * 10})
df["ret"] = df["close"].pct_change()
sma = df["close"].rolling(20).mean().dropna()
result = {"description": "warm", "body": [
    {"key": "sma", "value": sma.tail(3).tolist()},
    {"key": "stats", "value": df["ret"].describe().to_dict()},
    {"key": "last", "value": df.tail(2)}]}
"""


def _reseed_numpy():
    """numpy's global generator, a whole state of its own from the OS."""
    key = array.array("I", os.urandom(4 * 624))
    key[0] |= 0x80000000  # as numpy's own seeding: never all zero
    numpy.random.set_state(("MT19937", key, 624, 0, 0.0))


def prepare(numpy_reseeded):
    """In a spare child, before any request: what every run needs.

    The pages a run writes are copied next, by sandboxd's pre-fault (see
    sbx_prefault.c), not by running a script here.
    """
    # every child starts from the zygote's state: make its randomness its own
    random.seed()
    if numpy is not None and not numpy_reseeded:
        # sandboxd reseeds it from C where it can (see sbx_python.c)
        _reseed_numpy()
    gc.enable()


_PROBE_REQUEST = json.dumps({"script": _WARM_SCRIPT, "scan": True}).encode()


def probe():
    """In the pre-fault probe, a child forked to learn which pages a run
    writes: the path of run() with our own scripts, nothing sent.  Not a
    pandas script: its pages, pre-faulted, cost more than they saved
    (measured: 1525 pages a spare, children's CPU 9.4 to 9.6 ms a pandas
    run rather than 7.2 to 7.5)."""
    _encode(_run(json.loads(_PROBE_REQUEST)))
    _encode(_run({"script": "result = 1\n"}))


def _sealed_imports():
    """Only what is loaded already, or built in: no finder that opens files.

    A missing module is then a clear ModuleNotFoundError rather than a
    denied system call.  Done once, here in the zygote: dropping the path
    finders frees many objects, and in a child every one of those pages
    would be copied first (measured: 1.9 ms a run).
    """
    import importlib.machinery as machinery
    sys.meta_path[:] = [machinery.BuiltinImporter, machinery.FrozenImporter]
    sys.path_hooks[:] = []
    sys.path_importer_cache.clear()


def _run(req):
    """One request, run: the message that answers it, not yet encoded."""
    script = req["script"]
    params = req.get("params")

    if req.get("mode") == "validate":
        return {"t": "done", "result": sbx_validate.validate(script)}

    try:
        tree = ast.parse(script, "<script>")
    except SyntaxError as e:
        return _failure("SCRIPT_VALIDATION_FAILED",
                        "syntax error: %s" % e.msg,
                        line=e.lineno, offset=e.offset)
    except (ValueError, MemoryError, RecursionError) as e:
        return _failure("SCRIPT_VALIDATION_FAILED",
                        "the script cannot be parsed: %s" % type(e).__name__)

    # the scan: an early, clear answer for what the kernel would refuse
    imports = [] if pandas is None else None
    if req.get("scan", True):
        verdict = sbx_validate.validate(script, tree, imports)
        if not verdict["valid"]:
            first = verdict["errors"][0]
            return _failure("SCRIPT_VALIDATION_FAILED"
                            if first["construct"] == "syntax"
                            else "SECURITY_VIOLATION", first["message"],
                            line=first["line"], construct=first["construct"],
                            errors=verdict["errors"][:20])
    elif imports is not None:
        sbx_validate.imports_of(tree, imports)

    # a lighter child: what is not loaded here may be in the full zygote
    if imports and not all(_loaded(i) for i in imports):
        return {"t": "reroute"}

    out = _CappedText(STDOUT_LIMIT)
    sys.stdout = out
    sys.stderr = out

    # tracebacks read source lines through linecache: from memory, never
    # from a file the child could not open anyway
    linecache.cache["<script>"] = (len(script), None,
                                   script.splitlines(True), "<script>")

    scope = {"__name__": "__main__", "__builtins__": builtins,
             "mcp_client": mcp_client}

    if params is not None:
        if not _apply_params(tree, params):
            return _failure("SCRIPT_VALIDATION_FAILED",
                            "params were given but the script has no "
                            "top-level PARAMS = {...}")
        scope["__sbx_params__"] = params

    try:
        code = compile(tree, "<script>", "exec")
        exec(code, scope)
    except McpError as e:
        return _failure(e.code if e.code in ("DATA_UNAVAILABLE",
                                             "MCP_TOOL_ERROR")
                        else "MCP_TOOL_ERROR", str(e), tool=e.tool,
                        line=_script_line(e.__traceback__))
    except MemoryError:
        return _failure("MEMORY_LIMIT_EXCEEDED",
                        "the script ran out of memory")
    except PermissionError as e:
        # the kernel refused: a file, most likely (the filter answers EACCES)
        return _failure("SECURITY_VIOLATION",
                        "the sandbox does not allow this: %s" % e,
                        type=type(e).__name__,
                        line=_script_line(e.__traceback__))
    except BaseException as e:  # noqa: B902 - the script's, all of them
        return _failure("EXECUTION_FAILED", "%s: %s" % (type(e).__name__, e),
                        type=type(e).__name__, error=str(e)[:1000],
                        line=_script_line(e.__traceback__))

    if "result" not in scope:
        return _failure("EXECUTION_FAILED",
                        "the script left no top-level `result`")

    try:
        answer = _answer(scope["result"])
    except MemoryError:
        return _failure("MEMORY_LIMIT_EXCEEDED",
                        "the answer ran out of memory")
    except (TypeError, ValueError) as e:
        return _failure("EXECUTION_FAILED",
                        "the result cannot be sent: %s" % e)

    return {"t": "done", "result": answer, "stdout": out.getvalue(),
            "stdout_truncated": out.truncated}


def _loaded(name):
    """Is a module this child could import loaded, "a.b" or "a:b" (from a
    import b: a submodule b, or any name in a)?"""
    module, _, attr = name.partition(":")
    if module not in sys.modules:
        return False
    return (not attr or hasattr(sys.modules[module], attr)
            or module + "." + attr in sys.modules)


def _encode(message):
    """A message's frame; an answer that cannot be one is a failure."""
    try:
        return json.dumps(message, allow_nan=False).encode()
    except MemoryError:
        return _encode(_failure("MEMORY_LIMIT_EXCEEDED",
                                "the answer ran out of memory"))
    except (TypeError, ValueError) as e:
        return _encode(_failure("EXECUTION_FAILED",
                                "the result cannot be sent: %s" % e))


def run(request):
    """The child's whole life: run one script, send one answer."""
    req = json.loads(request)
    frame = _encode(_run(req))
    _sbx.send(frame)


REHEARSALS = 20


def _rehearse():
    """In the zygote: the path of a run, again and again, before any fork.

    What a run fills on first use, and only reads afterwards (the type
    attribute cache, the interpreter's specialised instructions, tables
    built lazily), is then filled once here rather than written to, and
    so copied, in every child: measured, some 120 pages fewer a trivial
    run.
    Our own scripts only; nothing of it is left but those caches.
    """
    stdout, stderr = sys.stdout, sys.stderr
    try:
        for _ in range(REHEARSALS):
            # what the children's seeding runs, with seeds of the zygote's
            # that every child replaces
            random.seed()
            if numpy is not None:
                _reseed_numpy()
            for script in (_WARM_SCRIPT, "result = 1\n"):
                _encode(_run({"script": script, "params": {"n": 3}}))
                _encode(_run({"script": script}))
            _encode(_run({"script": "result = [1, 2, 3][5]\n"}))
            _encode(_run({"script": "result = (\n"}))
            if pandas is not None:
                _encode(_run({"script": _WARM_PANDAS}))
            else:
                # a lighter zygote's way to the full one
                _encode(_run({"script": "import pytz\nresult = 1\n"}))
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        linecache.cache.pop("<script>", None)


def _nothing_to_clean():
    """threading's after-fork cleanup, in a child of a one-thread parent."""


def _lean_after_fork():
    """threading's own after-fork cleanup is for the threads the parent had
    besides the one that forked: it rebuilds its locks and its table of
    threads, and in every child that copied some 85 pages (measured).
    The zygote has no other thread, the threading module's or anyone's
    (checked here, before any fork; it forks from this one thread only),
    and a child cannot start one: there is nothing to clean, and the one
    thread keeps its identity (the same pthread_self) in the child.
    """
    threading = sys.modules.get("threading")
    if threading is None:
        return  # not loaded: no cleanup of its own registered either
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    if (len(tasks) == 1 and threading.active_count() == 1
            and threading.current_thread() is threading.main_thread()):
        threading._after_fork.__code__ = _nothing_to_clean.__code__


_sealed_imports()
_rehearse()
_lean_after_fork()

# frozen objects are never scanned again: pages stay shared after fork
gc.collect()
gc.disable()
gc.freeze()
