"""Invoke one AWS-Lambda-style Python handler once, the way the Lambda python runtime does.

Run with the runtime's interpreter, ideally isolated so only the Lambda path applies:

    /var/lang/bin/python3 -I lambda-invoke.py HANDLER [EVENT]
      HANDLER  module.func (Lambda syntax; dir/module.func too) or path/module.py:func (Pants syntax),
               relative to the task root
      EVENT    JSON text, @FILE, or - / absent for stdin (empty stdin -> {})

Prints the handler's JSON result on stdout (nothing else goes to stdout: the handler's prints are
sent to stderr, like Lambda sends them to the log) and a REPORT line on stderr. On an exception it
prints Lambda's error document {"errorMessage", "errorType", "requestId", "stackTrace"} on stdout and
exits 1; a result that is not JSON-serializable is a Runtime.MarshalError (exit 1).

Path setup (Lambda python3.13): sys.path is the task root, the layer directories
/opt/python/lib/python3.13/site-packages and /opt/python (added with site.addsitedir, so .pth files
there are processed), /var/lang/lib/python3.13/site-packages, /var/runtime, then the stdlib. LD_LIBRARY_PATH cannot be changed
from inside a process: the caller must start the interpreter with Lambda's value, e.g.
    /var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib
(a warning is printed if /opt/lib is missing from it).
Env read: LAMBDA_TASK_ROOT (default /var/task), LAMBDA_LAYER_ROOT (default /opt, for tests only),
AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_FUNCTION_TIMEOUT (s).
"""
import importlib
import json
import os
import site
import sys
import time
import traceback
import uuid

T0 = time.monotonic()


class LambdaContext:
    def __init__(self, request_id, timeout_s):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local-function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:000000000000:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def setup_path(task_root, layer_root):
    py = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    layer_dirs = [os.path.join(layer_root, "python", "lib", py, "site-packages"), os.path.join(layer_root, "python")]
    # the invoker's own directory must not leak into the function's path
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    runtime = list(sys.path)
    for d in [task_root] + layer_dirs:
        site.addsitedir(d)  # appends d, then processes its .pth files (which may append more)
    # AWS's documented order for python3.13: task root, layer dirs, the runtime's site-packages
    # (boto3 lives there), /var/runtime, then the standard library
    runtime_sp = [p for p in runtime if p.endswith("site-packages")]
    ordered = [task_root] + layer_dirs + runtime_sp + [os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")]
    added = [p for p in sys.path if p not in runtime and p not in ordered]
    sys.path[:] = ordered + added + [p for p in runtime if p not in ordered]


def load_handler(spec, task_root):
    if ":" in spec:  # Pants: path/to/module.py:func
        path, func = spec.rsplit(":", 1)
        mod = path[:-3] if path.endswith(".py") else path
    else:  # Lambda: path/to/module.func
        mod, _, func = spec.rpartition(".")
    mod = mod.replace("/", ".").strip(".")
    if not mod or not func:
        raise ValueError(f"bad handler {spec!r}: expected module.func or module.py:func")
    module = importlib.import_module(mod)
    return getattr(module, func)


def read_event(arg):
    if arg is None or arg == "-":
        text = sys.stdin.read()
    elif arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            text = f.read()
    else:
        text = arg
    return json.loads(text) if text.strip() else {}


def error_doc(exc, request_id, error_type=None):
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    layer_root = os.environ.get("LAMBDA_LAYER_ROOT", "/opt")
    os.environ.setdefault("LAMBDA_TASK_ROOT", task_root)
    if "/opt/lib" not in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        print("lambda-invoke: warning: LD_LIBRARY_PATH lacks /opt/lib (Lambda always has it)", file=sys.stderr)
    request_id = str(uuid.UUID(int=0)) if os.environ.get("LAMBDA_INVOKE_FIXED_ID") else str(uuid.uuid4())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # the handler's prints go to the "log"
    setup_path(task_root, layer_root)
    os.chdir(task_root) if os.path.isdir(task_root) else None

    try:
        event = read_event(argv[2] if len(argv) > 2 else None)
    except Exception as exc:  # noqa: BLE001
        real_stdout.write(json.dumps(error_doc(exc, request_id, "Runtime.InvalidEvent")) + "\n")
        return 1
    try:
        handler = load_handler(argv[1], task_root)
    except Exception as exc:  # noqa: BLE001
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else "Runtime.HandlerNotFound" \
            if isinstance(exc, AttributeError) else "Runtime.UserCodeSyntaxError" if isinstance(exc, SyntaxError) else None
        real_stdout.write(json.dumps(error_doc(exc, request_id, kind)) + "\n")
        return 1
    t_init = time.monotonic()
    ctx = LambdaContext(request_id, float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "900")))
    status = 0
    try:
        result = handler(event, ctx)
        try:
            out = json.dumps(result)
        except (TypeError, ValueError) as exc:
            out, status = json.dumps(error_doc(exc, request_id, "Runtime.MarshalError")), 1
    except Exception as exc:  # noqa: BLE001
        out, status = json.dumps(error_doc(exc, request_id)), 1
    t_end = time.monotonic()
    real_stdout.write(out + "\n")
    real_stdout.flush()
    print(
        f"REPORT RequestId: {request_id}\tInit Duration: {(t_init - T0) * 1000:.2f} ms\t"
        f"Duration: {(t_end - t_init) * 1000:.2f} ms",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
