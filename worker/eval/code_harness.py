# cohort code-bench harness (module cohort_harness). main() runs inside the
# sandbox; importing the module has no side effects, so the fork server
# imports it once and each program's fork only calls main().
#
# Two processes, so model-written code cannot reach its verdict:
# - the judge (main()'s process) reads the task from stdin, runs the
#   dataset's own code (tests, canonical solutions, comparisons) and prints
#   the verdict line, prefixed by a per-run secret, on its saved stdout;
# - the candidate, forked by main() before the task is read, so its memory
#   holds neither the task, the tests, the canonical solutions nor the
#   secret. It gets only the candidate's code, runs it and answers calls
#   over a pipe; its stdio is /dev/null and it holds no other descriptor.
# Values cross the pipe as plain data (numbers, strings, lists, tuples,
# dicts, sets, bytes), so the judge never compares an object the candidate
# defined: an always-true __eq__ cannot pass. The judge is not dumpable (the
# candidate cannot open its /proc files); ptrace and process_vm_* are
# refused by the sandbox's seccomp filter; a signal from the candidate can
# only kill the judge, which leaves no verdict, and the host scores that as
# a failure. Time limits count the candidate's CPU time, read by the judge
# from /proc, so verdicts do not change with machine load.
import ast, builtins, copy, io, json, math, os, re, select, signal, struct, sys, time, types

_out = None     # the judge's saved stdout, set by main()
_secret = ""    # the per-run secret the host checks on the verdict line
_candidate = None

class Timeout(Exception):
    pass

class CandidateGone(Exception):
    """The candidate's process died, or sent what the protocol does not allow."""

def emit(result):
    _out.write(_secret + " " + json.dumps(result) + "\n"); _out.flush()
    if _candidate is not None:
        _candidate.kill("done")
    os._exit(0)

def err_text(e):
    try:
        return "%s: %s" % (type(e).__name__, str(e)[:300])
    except BaseException:
        return type(e).__name__

# ---- values across the pipe: JSON, with tagged objects for what JSON lacks ----
_MAX_DEPTH = 200
_MAX_MESSAGE = 256 << 20
_WIDE = 1 << 64

def encode(x, depth=0):
    if depth > _MAX_DEPTH:
        raise ValueError("a value nests deeper than %d levels" % _MAX_DEPTH)
    if x is None or x is True or x is False:
        return x
    d = depth + 1
    # Subclasses cross as their base type: the judge sees the data, never
    # the methods.
    if isinstance(x, int):
        x = int.__int__(x)
        # Wide integers as hex: no digit limit, linear time.
        return x if -_WIDE < x < _WIDE else {"i": hex(x)}
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, list):
        return [encode(i, d) for i in list.__iter__(x)]
    if isinstance(x, tuple):
        return {"t": [encode(i, d) for i in tuple.__iter__(x)]}
    if isinstance(x, dict):
        return {"d": [[encode(k, d), encode(v, d)] for k, v in dict.items(x)]}
    if isinstance(x, frozenset):
        return {"f": [encode(i, d) for i in frozenset.__iter__(x)]}
    if isinstance(x, set):
        return {"s": [encode(i, d) for i in set.__iter__(x)]}
    if isinstance(x, (bytes, bytearray)):
        return {"b": bytes(x).hex()}
    if isinstance(x, complex):
        return {"c": [x.real, x.imag]}
    if hasattr(type(x), "tolist"):  # numpy scalars and arrays
        return encode(x.tolist(), d)
    raise TypeError("a %s cannot be returned (plain data only)" % type(x).__name__)

_DECODERS = {"i": lambda v: int(v, 16), "t": tuple, "s": set, "f": frozenset, "d": dict,
             "b": lambda v: bytes.fromhex(v), "c": lambda v: complex(float(v[0]), float(v[1]))}

def _decode_object(obj):
    if len(obj) != 1:
        raise ValueError("not a tagged value")
    (tag, value), = obj.items()
    if tag not in _DECODERS or not isinstance(value, str if tag in "bi" else list):
        raise ValueError("not a tagged value")
    return _DECODERS[tag](value)

def decode(data):
    return json.loads(data, object_hook=_decode_object)

def frame(message):
    data = json.dumps(message).encode("ascii")
    return struct.pack("<Q", len(data)) + data

# ---- the candidate's process ----
def _read_exact(fd, n):
    data = bytearray()
    while len(data) < n:
        chunk = os.read(fd, min(n - len(data), 1 << 20))
        if not chunk:
            os._exit(0)
        data += chunk
    return bytes(data)

def _serve(request, state):
    op = request[0]
    if op == "load":  # code, entry, module name or None, the entry is a Solution method
        _, code, entry, module_name, solution_class = request
        space = types.ModuleType(module_name, "").__dict__ if module_name else {}
        exec(compile(code, "<program>", "exec"), space)
        if solution_class:
            state["target"] = getattr(space["Solution"](), entry)
        elif entry in space:
            state["target"] = space[entry]
        else:
            raise NameError("name '%s' is not defined" % entry)
        return None
    if op == "call":
        return state["target"](*request[1], **request[2])
    if op == "stdio":
        return call_stdio(state["target"], request[1])
    raise ValueError("unknown request")

def _reply(request, state):
    try:
        return ["ok", encode(_serve(request, state))]
    except BaseException as e:  # SystemExit too: the candidate's own exit is a failure
        try:
            return ["raised", str.__str__(type(e).__name__)[:100], str(e)[:300]]
        except BaseException:
            return ["raised", "Exception", "(an exception that cannot be printed)"]

def candidate_main(rfd, wfd):
    """Runs in the forked candidate process; never returns."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
            if fd > 2 and fd not in (rfd, wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass  # the listing's own descriptor, already closed
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
        state = {}
        while True:
            size = struct.unpack("<Q", _read_exact(rfd, 8))[0]
            message = frame(_reply(decode(_read_exact(rfd, size)), state))
            view = memoryview(message)
            while view:
                view = view[os.write(wfd, view):]
    finally:
        os._exit(0)

# ---- the judge's handle on it ----
def _remote_exception(name, message):
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except BaseException:
            pass
    return type(name, (Exception,), {})(message)

class Candidate:
    def __init__(self):
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(to_write); os.close(from_read)
            candidate_main(to_read, from_write)
        os.close(to_read); os.close(from_write)
        os.set_blocking(to_write, False); os.set_blocking(from_read, False)
        self.pid, self.wfd, self.rfd = pid, to_write, from_read
        self.gone = None  # why it is gone: "timeout" or what happened
        self.ticks = os.sysconf("SC_CLK_TCK")

    def cpu(self):
        """The candidate's CPU seconds so far (its threads included)."""
        try:
            with open("/proc/%d/stat" % self.pid, "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            return (int(fields[11]) + int(fields[12])) / self.ticks
        except (OSError, ValueError, IndexError):
            return 0.0

    def kill(self, why):
        if self.gone is None:
            self.gone = why
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def _raise_gone(self):
        raise Timeout() if self.gone == "timeout" else CandidateGone(self.gone)

    def _died(self):
        """The pipe closed: why, once the process is gone (killed if it
        closed the pipe and lives on)."""
        if self.gone is None:
            status = None
            for _ in range(20):
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except OSError:
                    pid, status = self.pid, 0
                if pid != 0:
                    break
                status = None
                time.sleep(0.005)
            if status is None:
                self.kill("the candidate's process closed its pipe")
                self._raise_gone()
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
                self.gone = "timeout"
            elif os.WIFSIGNALED(status):
                self.gone = "the candidate's process was killed by signal %d" % os.WTERMSIG(status)
            else:
                self.gone = "the candidate's process exited (code %d)" % os.WEXITSTATUS(status)
        self._raise_gone()

    def request(self, message, cpu_limit):
        """Sends one request and returns the reply's value, or raises the
        candidate's exception; Timeout once the candidate spent cpu_limit CPU
        seconds on it (or twice that plus one in wall time)."""
        if self.gone is None and cpu_limit <= 0:
            self.kill("timeout")
        if self.gone is not None:
            self._raise_gone()
        start_cpu, start = self.cpu(), time.monotonic()

        def check_time():
            if self.cpu() - start_cpu > cpu_limit or time.monotonic() - start > 2 * cpu_limit + 1:
                self.kill("timeout")
                self._raise_gone()

        view = memoryview(frame(message))
        while view:
            if select.select([], [self.wfd], [], 0.05)[1]:
                try:
                    view = view[os.write(self.wfd, view):]
                except BlockingIOError:
                    pass
                except OSError:
                    self._died()
            else:
                check_time()
        data = bytearray()
        while True:
            if select.select([self.rfd], [], [], 0.05)[0]:
                try:
                    chunk = os.read(self.rfd, 1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._died()
                data += chunk
                if len(data) >= 8:
                    size = struct.unpack("<Q", data[:8])[0]
                    if size > _MAX_MESSAGE or len(data) > size + 8:
                        self.kill("the candidate's process broke the protocol")
                        self._raise_gone()
                    if len(data) == size + 8:
                        break
            else:
                check_time()
        try:
            reply = decode(bytes(data[8:]))
            kind = reply[0]
            if kind == "ok" and len(reply) == 2:
                return reply[1]
            if kind == "raised" and len(reply) == 3:
                name, text = reply[1], reply[2]
                if isinstance(name, str) and isinstance(text, str):
                    error = _remote_exception(name[:100], text[:300])
                else:
                    raise ValueError("bad exception")
            else:
                raise ValueError("bad reply")
        except BaseException:
            self.kill("the candidate's process broke the protocol")
            self._raise_gone()
        raise error

    def function(self, cpu_limit):
        """A stand-in for the candidate's function: calls cross the pipe."""
        def candidate(*args, **kwargs):
            return self.request(["call", encode(list(args)), encode(kwargs)], cpu_limit())
        return candidate

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

# ---- HumanEval: the dataset's check() on the candidate's function ----
def run_humaneval(t, cand):
    code, rule = extract_chat(t["completion"])
    res = {"extracted": code, "rule": rule}
    start = cand.cpu()
    left = lambda: t["timeout"] - (cand.cpu() - start)
    try:
        cand.request(["load", t["prompt"] + code + "\n", t["entry_point"], None, False], left())
        # The test runs beside the prompt's own helpers (HumanEval/32's poly,
        # /38's encode_cyclic), never beside the candidate's redefinitions.
        # The entry point's name is the candidate's too (HumanEval/33's test
        # calls sort_third by name).
        tests = {}
        exec(compile(t["prompt"], "<prompt>", "exec"), tests)
        tests[t["entry_point"]] = cand.function(left)
        exec(compile(t["test"], "<test>", "exec"), tests)
        tests["check"](tests[t["entry_point"]])
        res["status"] = "passed"
    except Timeout:
        res["status"] = "timed out"
    except BaseException as e:
        res["status"] = "failed: " + err_text(e)
    if cand.gone == "timeout":
        res["status"] = "timed out"
    elif cand.gone is not None and res["status"] == "passed":
        res["status"] = "failed: " + cand.gone
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

def outputs_match(t, inp, out, exp, atol):
    """evalplus's comparison, on plain data: exact, else (floats) the same
    type and allclose."""
    if t["entry_point"] == "find_zero":
        return abs(poly(*inp, out)) <= atol
    tol = 1e-6 if atol == 0 and is_floats(exp) else atol
    exact = out == exp
    if not exact and tol != 0:
        return type(out) == type(exp) and allclose(out, exp, 1e-7, tol)
    return bool(exact)

def check_inputs(cand, t, inputs, expected, limits, atol):
    budget = min(t["task_timeout"], sum(limits)) + 1
    start = cand.cpu()
    for i, inp in enumerate(inputs):
        left = budget - (cand.cpu() - start)
        if left <= 0:
            return "timeout", i
        try:
            out = cand.request(["call", encode(list(inp)), {"d": []}], min(limits[i], left))
        except Timeout:
            return "timeout", i
        except BaseException:
            return "fail", i
        try:
            ok = outputs_match(t, inp, out, expected[i], atol)
        except BaseException:
            ok = False
        if not ok:
            return "fail", i
    return "pass", -1

def run_evalplus(t, cand):
    code, rule = extract_chat(t["completion"])
    res = {"extracted": code, "rule": rule}
    phases = [("base", t["base_input"]), ("plus", t["plus_input"])]
    gts = {}
    for name, inputs in phases:
        gts[name] = ground_truth(t, inputs)
    try:
        cand.request(["load", t["prompt"] + code, t["entry_point"], None, False],
                     t["task_timeout"])
    except BaseException as e:
        res.update(status="failed", base_status="fail", plus_status="fail", error=err_text(e))
        emit(res)
    for name, inputs in phases:
        outs, times = gts[name]
        limits = [max(t["min_time_limit"], t["gt_factor"] * s) for s in times]
        status, at = check_inputs(cand, t, inputs, outs, limits, t["atol"])
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
    """Runs in the candidate's process: the program's stdout for `inp`."""
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

def run_lcb(t, cand):
    tests, timeout, fn_name = t["tests"], t["timeout"], t.get("fn_name")
    results = []
    def finish(code, msg):
        emit({"status": "passed" if code is None else "failed", "results": results,
              "error_code": code, "error_message": msg})
    try:
        if fn_name:
            load = ["load", PREAMBLE + t["code"], fn_name, "tmp_sol", "class Solution" in t["code"]]
        else:
            load = ["load", make_function(clean_if_name(t["code"])), "wrapped_function",
                    "tmp_sol", False]
        cand.request(load, timeout)
    except BaseException as e:
        results.append(-4)
        finish(-4, "Compilation Error: " + err_text(e))
    for case in tests:
        try:
            if fn_name:
                args = [json.loads(l) for l in case["input"].split("\n")]
                pred = cand.request(["call", encode(args), {"d": []}], timeout)
                if isinstance(pred, tuple):
                    pred = list(pred)
                ok = pred == json.loads(case["output"])
            else:
                pred = cand.request(["stdio", case["input"]], timeout)
                ok = isinstance(pred, str) and stdio_equal(pred, case["output"])
        except Timeout:
            results.append(-3)
            finish(-3, "Time Limit Exceeded")
        except BaseException as e:
            results.append(-4)
            finish(-4, "Runtime Error: " + err_text(e))
        if not ok:
            results.append(-2)
            finish(-2, "Wrong Answer")
        results.append(True)
    finish(None, "")

def _read_stdin():
    data = bytearray()
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return bytes(data)
        data += chunk

def _not_dumpable():
    import ctypes
    if ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")

def main():
    global _out, _secret, _candidate
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(50000)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _candidate = Candidate()  # before the task is read: it never holds it
    _not_dumpable()
    task = json.loads(_read_stdin())
    _out = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0); os.dup2(null, 1); os.dup2(null, 2)
    sys.stdout = io.StringIO(); sys.stderr = io.StringIO()
    _secret = task.pop("secret")
    if "problem" in task:  # the dataset row, spliced in verbatim
        problem = task.pop("problem")
        problem.update(task)
        task = problem
    os.chdir("/tmp")
    {"humaneval": run_humaneval, "evalplus": run_evalplus, "lcb": run_lcb}[task["mode"]](
        task, _candidate)
