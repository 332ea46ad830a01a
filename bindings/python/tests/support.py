"""What several test modules share: where the tests, the package and the
repository are, and Python code run in a child process that imports the package
from this source tree."""

import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))  # bindings/python/tests
PKG_ROOT = os.path.dirname(HERE)  # bindings/python
REPO = os.path.dirname(os.path.dirname(PKG_ROOT))  # the repository

# A child started by a shell without job control (a background job, nohup in a
# script) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
# handler: children that test Ctrl-C restore it first, as an interactive
# program would have it.
SIGINT_DEFAULT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def child_env(extra=None):
    """This process's environment, with the source tree first on PYTHONPATH, then extra."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if extra:
        env.update(extra)
    return env


def run_py(code, env=None, cwd=None, timeout=120, sigint=False):
    """Run code (dedented; SIGINT restored first if sigint) in a child Python; return its
    CompletedProcess (text output)."""
    code = (SIGINT_DEFAULT if sigint else "") + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", code], env=child_env(env),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start_py(code):
    """Start code (dedented, unbuffered, SIGINT restored) in a child Python; return the Popen."""
    return subprocess.Popen([sys.executable, "-u", "-c", SIGINT_DEFAULT + textwrap.dedent(code)],
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
