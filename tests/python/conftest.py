# The pytest suite of the Python module econtext (tests/test_python.sh runs it).
import glob
import os
import sys

import pytest


def interpreters():
    """Every context interpreter found: pyenv's 2.7 and 3.6-3.13, and /usr/bin/python3."""
    found = []
    for d in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin"))):
        for name in ("python",):
            p = os.path.join(d, name)
            if os.access(p, os.X_OK):
                found.append(p)
    if os.access("/usr/bin/python3", os.X_OK):
        found.append("/usr/bin/python3")
    return found


INTERPRETERS = interpreters()

# tests/test_channel.c's channel functions, served to contexts from sys.path too
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "chan"))


def pytest_report_header(config):
    return "context interpreters: " + (" ".join(INTERPRETERS) or "none")


@pytest.fixture(scope="session")
def master():
    import econtext
    with econtext.Master() as m:
        yield m


@pytest.fixture(scope="session")
def local(master):
    """A local context on /usr/bin/python3 (or the first interpreter found)."""
    if not INTERPRETERS:
        pytest.skip("no Python interpreter for a context")
    py = "/usr/bin/python3" if "/usr/bin/python3" in INTERPRETERS else INTERPRETERS[-1]
    with master.connect("local", python=py) as ctx:
        yield ctx
