# cohort code-bench harness (module cohort_harness): main() runs inside the
# sandbox, reads /task/task.json and writes one JSON result line to the
# original stdout. Importing it has no side effects, so the fork server
# imports it once and each program's fork only calls main(). Untrusted code
# runs in that process after main() has set itself up (a fresh process per
# task: a fork of the sandbox's fork server, or a fresh interpreter).
import ast, copy, io, json, math, os, re, signal, sys, time

_out = None  # the saved stdout, set by main()

class Timeout(BaseException):
    pass

def _on_prof(signum, frame):
    raise Timeout()

def cpu_limit(seconds):
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001))

def cpu_clear():
    signal.setitimer(signal.ITIMER_PROF, 0)

def emit(result):
    _out.write(json.dumps(result) + "\n"); _out.flush(); os._exit(0)

def err_text(e):
    return "%s: %s" % (type(e).__name__, str(e)[:300])

# ---- omk extract_chat (protocol 2.7) ----
_BLOCK = re.compile(r"[ \t]*```(?:python|py)?[ \t]*\n((?:(?!```).)*?)\n[ \t]*```", re.S | re.I)

def _parses(code):
    try:
        return ast.parse(code)
    except Exception:
        return None

def _has_real_function(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if not (len(body) == 1 and isinstance(body[0], ast.Expr)
                    and isinstance(getattr(body[0], "value", None), ast.Constant)
                    and isinstance(body[0].value.value, str)):
                return True
    return False

def _dedent(text):
    lines = text.split("\n")
    indent = ""
    for l in lines:
        if l.strip():
            indent = l[: len(l) - len(l.lstrip())]
            break
    return "\n".join(l[len(indent):] if l.startswith(indent) else l for l in lines)

def _parse_trim(text, need_function):
    lines = text.split("\n")
    best = None
    for i in range(1, len(lines) + 1):
        prefix = "\n".join(lines[:i])
        tree = _parses(prefix)
        if tree is not None and (not need_function or _has_real_function(tree)):
            best = prefix
    return best

def extract_chat(text):
    survivors = []
    for m in _BLOCK.finditer(text):
        kept = _parse_trim(_dedent(m.group(1)), True)
        if kept is not None and "def " in kept:
            survivors.append(kept)
    if survivors:
        return survivors[-1], "fenced_block"
    rest = re.sub(r"^\s*```(?:python|py)?\s*\n?", "", text, count=1)
    rest = rest.split("```")[0]
    kept = _parse_trim(rest, False)
    if kept is not None and kept.strip():
        return kept, "parse_trim"
    return text, "raw"

# ---- HumanEval: prompt + candidate + test + check(entry_point) ----
def run_humaneval(t):
    cand, rule = extract_chat(t["completion"])
    program = t["prompt"] + cand + "\n" + t["test"] + "\n" + "check(%s)" % t["entry_point"]
    res = {"extracted": cand, "rule": rule}
    try:
        cpu_limit(t["timeout"])
        exec(compile(program, "<program>", "exec"), {})
        cpu_clear()
        res["status"] = "passed"
    except Timeout:
        res["status"] = "timed out"
    except BaseException as e:
        cpu_clear()
        res["status"] = "failed: " + err_text(e)
    emit(res)

# ---- HumanEval+ (evalplus differential testing) ----
def is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False

def allclose(a, b, rtol, atol):
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))) or len(a) != len(b):
            return False
        return all(allclose(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        raise TypeError("not numeric")
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)

def poly(xs, x):
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))

def load_fn(code, entry):
    g = {}
    exec(compile(code, "<program>", "exec"), g)
    return g[entry]

def ground_truth(t, inputs):
    fn = load_fn(t["prompt"] + t["canonical_solution"], t["entry_point"])
    outs, times = [], []
    for inp in inputs:
        start = time.process_time()
        outs.append(fn(*copy.deepcopy(inp)))
        times.append(time.process_time() - start)
    return outs, times

def check_inputs(fn, t, inputs, expected, limits, atol):
    budget = min(t["task_timeout"], sum(limits)) + 1
    spent_start = time.process_time()
    for i, inp in enumerate(inputs):
        left = budget - (time.process_time() - spent_start)
        if left <= 0:
            return "timeout", i
        try:
            cpu_limit(min(limits[i], left))
            out = fn(*copy.deepcopy(inp))
            cpu_clear()
        except Timeout:
            return "timeout", i
        except BaseException:
            cpu_clear()
            return "fail", i
        exp = expected[i]
        try:
            if t["entry_point"] == "find_zero":
                ok = abs(poly(*inp, out)) <= atol
            else:
                tol = 1e-6 if atol == 0 and is_floats(exp) else atol
                exact = out == exp
                if not exact and tol != 0:
                    ok = type(out) == type(exp) and allclose(out, exp, 1e-7, tol)
                else:
                    ok = bool(exact)
        except BaseException:
            ok = False
        if not ok:
            return "fail", i
    return "pass", -1

def run_evalplus(t):
    cand, rule = extract_chat(t["completion"])
    res = {"extracted": cand, "rule": rule}
    phases = [("base", t["base_input"]), ("plus", t["plus_input"])]
    gts = {}
    for name, inputs in phases:
        gts[name] = ground_truth(t, inputs)
    try:
        cpu_limit(t["task_timeout"])
        fn = load_fn(t["prompt"] + cand, t["entry_point"])
        cpu_clear()
    except BaseException as e:
        cpu_clear()
        res.update(status="failed", base_status="fail", plus_status="fail", error=err_text(e))
        emit(res)
    for name, inputs in phases:
        outs, times = gts[name]
        limits = [max(t["min_time_limit"], t["gt_factor"] * s) for s in times]
        status, at = check_inputs(fn, t, inputs, outs, limits, t["atol"])
        res[name + "_status"] = status
        res[name + "_fail_input"] = at
        res[name + "_inputs"] = len(inputs)
        res[name + "_gt_cpu_s"] = round(sum(times), 4)
    res["status"] = "passed" if res["base_status"] == res["plus_status"] == "pass" else "failed"
    emit(res)

# ---- LiveCodeBench (official testing_util rules) ----
PREAMBLE = "".join("from %s import *\n" % m for m in ("string", "re", "datetime", "collections",
    "heapq", "bisect", "copy", "math", "random", "statistics", "itertools", "functools",
    "operator", "io", "sys", "json", "builtins", "typing")) + "".join("import %s\n" % m for m in (
    "string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
    "statistics", "itertools", "functools", "operator", "io", "sys", "json")) + \
    "sys.setrecursionlimit(50000)\n"

def clean_if_name(code):
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code

def make_function(code):
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        fn = ast.FunctionDef(name="wrapped_function", args=ast.arguments(posonlyargs=[], args=[],
             kwonlyargs=[], kw_defaults=[], defaults=[]), body=others or [ast.Pass()],
             decorator_list=[], lineno=-1)
        return PREAMBLE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(fn)
    except Exception:
        return code

def lcb_module(code, timeout):
    import types
    mod = types.ModuleType("tmp_sol", "")
    cpu_limit(timeout)
    exec(compile(code, "<program>", "exec"), mod.__dict__)
    cpu_clear()
    return mod

def lines_of(text):
    return [l.strip() for l in text.strip().split("\n")]

def decimals(line):
    from decimal import Decimal
    try:
        return True, [Decimal(e) for e in line.split()]
    except Exception:
        return False, []

def stdio_equal(pred, gold):
    p, g = lines_of(pred), lines_of(gold)
    if len(p) != len(g):
        return False
    for a, b in zip(p, g):
        if a == b:
            continue
        ok1, da = decimals(a)
        ok2, db = decimals(b)
        if not (ok1 and ok2 and da == db):
            return False
    return True

def call_stdio(method, inp):
    from unittest.mock import patch, mock_open
    it = iter(inp.split("\n"))
    buf = io.StringIO()
    with patch("builtins.open", mock_open(read_data=inp)), \
         patch("sys.stdin", io.StringIO(inp)), \
         patch("sys.stdin.readline", lambda *a: next(it)), \
         patch("sys.stdin.readlines", lambda *a: inp.split("\n")), \
         patch("sys.stdin.read", lambda *a: inp), patch("sys.stdout", buf):
        try:
            method()
        except SystemExit:
            pass
    return buf.getvalue()

def run_lcb(t):
    tests, timeout, fn_name = t["tests"], t["timeout"], t.get("fn_name")
    results = []
    def finish(code, msg):
        emit({"status": "passed" if code is None else "failed", "results": results,
              "error_code": code, "error_message": msg})
    try:
        if fn_name:
            code = PREAMBLE + t["code"]
            mod = lcb_module(code, timeout)
            target = mod.Solution() if "class Solution" in t["code"] else mod
            method = getattr(target, fn_name)
        else:
            mod = lcb_module(make_function(clean_if_name(t["code"])), timeout)
            method = mod.wrapped_function
    except BaseException as e:
        cpu_clear()
        results.append(-4)
        finish(-4, "Compilation Error: " + err_text(e))
    for case in tests:
        try:
            cpu_limit(timeout)
            if fn_name:
                args = [json.loads(l) for l in case["input"].split("\n")]
                pred = method(*args)
                if isinstance(pred, tuple):
                    pred = list(pred)
                ok = pred == json.loads(case["output"])
            else:
                ok = stdio_equal(call_stdio(method, case["input"]), case["output"])
            cpu_clear()
        except Timeout:
            results.append(-3)
            finish(-3, "Time Limit Exceeded")
        except BaseException as e:
            cpu_clear()
            results.append(-4)
            finish(-4, "Runtime Error: " + err_text(e))
        if not ok:
            results.append(-2)
            finish(-2, "Wrong Answer")
        results.append(True)
    finish(None, "")

def main():
    global _out
    _out = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0); os.dup2(null, 1); os.dup2(null, 2)
    sys.stdout = io.StringIO(); sys.stderr = io.StringIO()
    sys.set_int_max_str_digits(50000) if hasattr(sys, "set_int_max_str_digits") else None
    signal.signal(signal.SIGPROF, _on_prof)
    with open("/task/task.json") as f:
        task = json.load(f)
    if "problem" in task:  # the dataset row, spliced in verbatim
        problem = task.pop("problem")
        problem.update(task)
        task = problem
    os.chdir("/tmp")
    {"humaneval": run_humaneval, "evalplus": run_evalplus, "lcb": run_lcb}[task["mode"]](task)
