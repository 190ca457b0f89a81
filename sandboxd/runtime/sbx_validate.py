"""Static analysis of a script: seed 000's validation result.

    {valid, errors, warnings, security_score, estimated_runtime_ms, mcp_calls}

It gives a user a clear, early SECURITY_VIOLATION (which construct, which
line) for what the sandbox would refuse anyway.  It is not the boundary:
the kernel is (namespaces, seccomp, limits), and the tests run every escape
with this scan switched off too.
"""

import ast

BLOCKED_MODULES = {
    "os", "subprocess", "sys", "shutil", "socket", "requests", "ctypes",
    "pickle", "marshal", "importlib", "builtins", "io", "pathlib", "signal",
    "threading", "multiprocessing", "gc", "inspect", "code", "codeop",
    "types", "urllib", "http", "ftplib", "telnetlib", "smtplib", "resource",
    "mmap", "fcntl", "posix", "pty", "tempfile", "glob", "shelve", "dbm",
    "sqlite3", "asyncio", "select", "selectors", "ssl", "_sbx",
}

BLOCKED_CALLS = {
    "open", "eval", "exec", "compile", "__import__", "breakpoint", "input",
    "globals", "locals", "memoryview",
}

# reflective builtins: blocked on a dunder name or on any computed name
REFLECTIVE_CALLS = {"getattr", "setattr", "delattr", "hasattr", "vars", "dir"}

# the doors out of the object model: frames, code, globals, class trees
BLOCKED_ATTRIBUTES = {
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "gi_frame",
    "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame",
    "tb_next", "co_code", "func_globals", "func_code",
}

# methods that read or write files, or evaluate strings, in numpy/pandas
BLOCKED_METHODS = {
    "load", "fromfile", "tofile", "save", "savez", "savez_compressed",
    "savetxt", "loadtxt", "genfromtxt", "memmap", "read_pickle", "to_pickle",
    "read_parquet", "to_parquet", "read_hdf", "to_hdf", "read_feather",
    "to_feather", "read_sql", "to_sql", "read_excel", "to_excel",
    "read_stata", "to_stata", "read_sas", "read_spss", "read_orc",
    "eval", "query", "system", "popen",
}

MCP_CALL_COST_MS = 5
BASE_COST_MS = 2


def _error(errors, node, construct, message):
    errors.append({"line": getattr(node, "lineno", None),
                   "construct": construct, "message": message})


def _const_str(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _imported(node, imports):
    """The modules an import names: "a.b" for import a.b, "a:b" for from a
    import b (a submodule or any name of a); relative ones are no module."""
    if isinstance(node, ast.Import):
        imports.extend(alias.name for alias in node.names)
    elif node.level == 0 and node.module:
        imports.extend(node.module + ":" + alias.name
                       for alias in node.names if alias.name != "*")
        imports.append(node.module)


def imports_of(tree, imports):
    """Every module a tree imports, into a list (the scan does it too)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _imported(node, imports)


class _Scan(ast.NodeVisitor):

    def __init__(self, imports=None):
        self.errors = []
        self.warnings = []
        self.mcp_calls = []
        self.loops = 0
        self.imports = imports

    def visit_Import(self, node):
        for alias in node.names:
            self._module(node, alias.name)
        if self.imports is not None:
            _imported(node, self.imports)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        self._module(node, node.module or "")
        if self.imports is not None:
            _imported(node, self.imports)
        self.generic_visit(node)

    def _module(self, node, name):
        top = name.split(".")[0]
        if top in BLOCKED_MODULES:
            _error(self.errors, node, "import " + name,
                   "importing %s is not allowed" % name)

    def visit_Attribute(self, node):
        name = node.attr
        if name.startswith("__") and name.endswith("__"):
            _error(self.errors, node, "." + name,
                   "the attribute %s is not allowed" % name)
        elif name in BLOCKED_ATTRIBUTES:
            _error(self.errors, node, "." + name,
                   "the attribute %s is not allowed" % name)
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id.startswith("__") and node.id.endswith("__") \
                and node.id not in ("__name__",):
            _error(self.errors, node, node.id,
                   "the name %s is not allowed" % node.id)
        self.generic_visit(node)

    def visit_Constant(self, node):
        # "{0.__class__}".format(x): attribute walks inside format strings
        if isinstance(node.value, str) and "{" in node.value \
                and ("__" in node.value or ".f_" in node.value):
            _error(self.errors, node, "format string",
                   "a format string that reaches into attributes")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in BLOCKED_CALLS:
                _error(self.errors, node, func.id + "()",
                       "calling %s() is not allowed" % func.id)
            elif func.id in REFLECTIVE_CALLS:
                self._reflective(node, func.id)
            elif func.id == "call":
                self._mcp(node)
        elif isinstance(func, ast.Attribute):
            if func.attr in BLOCKED_METHODS:
                _error(self.errors, node, "." + func.attr + "()",
                       "calling .%s() is not allowed" % func.attr)
            elif func.attr == "format" and isinstance(func.value, ast.Constant):
                pass  # the constant itself is checked
            elif func.attr == "call":
                self._mcp(node)
        self.generic_visit(node)

    def _reflective(self, node, name):
        if not node.args and name in ("vars", "dir"):
            _error(self.errors, node, name + "()",
                   "%s() without an argument is not allowed" % name)
            return
        if len(node.args) >= 2 or name in ("vars", "dir"):
            attr = _const_str(node.args[1]) if len(node.args) >= 2 else None
            if name in ("vars", "dir"):
                _error(self.errors, node, name + "()",
                       "%s() is not allowed" % name)
            elif attr is None:
                _error(self.errors, node, name + "()",
                       "%s() with a computed name is not allowed" % name)
            elif attr.startswith("_") or attr in BLOCKED_ATTRIBUTES:
                _error(self.errors, node, name + "()",
                       "%s() on %s is not allowed" % (name, attr))

    def _mcp(self, node):
        tool = _const_str(node.args[0]) if node.args else None
        if tool is not None:
            if tool not in self.mcp_calls:
                self.mcp_calls.append(tool)
        else:
            self.warnings.append({"line": node.lineno,
                                  "message": "a tool name that is computed "
                                             "cannot be checked in advance"})

    def visit_While(self, node):
        self.loops += 1
        test = node.test
        if isinstance(test, ast.Constant) and test.value:
            self.warnings.append({"line": node.lineno,
                                  "message": "Long-running operation "
                                             "detected: while True"})
        self.generic_visit(node)

    def visit_For(self, node):
        self.loops += 1
        self.generic_visit(node)


def validate(script, tree=None, imports=None):
    """The validation result of seed 000 for one script (or its tree); the
    modules it imports go into "imports" when that is a list."""
    try:
        if tree is None:
            tree = ast.parse(script, "<script>")
    except SyntaxError as e:
        return {"valid": False,
                "errors": [{"line": e.lineno, "construct": "syntax",
                            "message": "syntax error: %s" % e.msg}],
                "warnings": [], "security_score": 0,
                "estimated_runtime_ms": 0, "mcp_calls": []}
    except (ValueError, RecursionError, MemoryError) as e:
        return {"valid": False,
                "errors": [{"line": None, "construct": "syntax",
                            "message": "the script cannot be parsed: %s"
                                       % type(e).__name__}],
                "warnings": [], "security_score": 0,
                "estimated_runtime_ms": 0, "mcp_calls": []}

    scan = _Scan(imports)
    try:
        scan.visit(tree)
    except RecursionError:
        _error(scan.errors, tree, "nesting", "the script is nested too deeply")

    has_result = any(isinstance(n, (ast.Assign, ast.AnnAssign))
                     and any(isinstance(t, ast.Name) and t.id == "result"
                             for t in (n.targets if isinstance(n, ast.Assign)
                                       else [n.target]))
                     for n in tree.body)
    if not has_result:
        scan.warnings.append({"line": None,
                              "message": "no top-level `result` is assigned"})

    score = 100 - 40 * len(scan.errors) - 5 * len(scan.warnings)
    return {
        "valid": not scan.errors,
        "errors": scan.errors,
        "warnings": scan.warnings,
        "security_score": max(0, min(100, score)),
        "estimated_runtime_ms": BASE_COST_MS
        + MCP_CALL_COST_MS * len(scan.mcp_calls) * (1 + scan.loops),
        "mcp_calls": scan.mcp_calls,
    }
