"""The Python module econtext against real contexts (docs/python.md)."""
import datetime
import decimal
import gc
import logging
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import chanfn
import econtext
import ectestlib
from conftest import INTERPRETERS

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("EC_TEST_SRCDIR", os.path.join(HERE, "..", ".."))
EXAMPLES = os.path.join(SRCDIR, "examples", "python")


def wait_for(predicate, what, limit=30.0):
    """Wait for an event (polled); the limit only turns a hang into a failure."""
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("never happened: " + what)
        time.sleep(0.01)


# ---- every context interpreter ---------------------------------------------------

@pytest.mark.parametrize("py", INTERPRETERS)
def test_interpreter(master, py):
    with master.connect("v" + os.path.basename(os.path.dirname(os.path.dirname(py))),
                        transport="local", python=py) as ctx:
        want = subprocess.check_output([py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        assert ctx.call(ectestlib.version) == want.decode().strip()
        assert ctx.call(os.getpid) == ctx.pid
        assert ctx.call(ectestlib.echo, 1, "two", b"3", k=[None, True]) == [[1, "two", b"3"], {"k": [None, True]}]
        assert ctx.call(ectestlib.Tools.add, 2, 3) == 5
        assert ctx.call(ectestlib.Tools.name, "!") == "Tools!"
        with pytest.raises(econtext.RemoteError) as ei:
            ctx.call(ectestlib.fail, "KeyError", "gone")
        assert "KeyError" in ei.value.type_name
        ch = ctx.channel()
        assert ctx.call(chanfn.produce, ch, 3) == 3
        assert list(ch) == [0, 1, 2]


def test_no_interpreter_skips_visibly():
    if not INTERPRETERS:
        pytest.skip("no context interpreter found")


# ---- calls -------------------------------------------------------------------------

def test_call_forms(local):
    assert local.call(os.getpid) == local.pid
    assert local.call("os.getpid") == local.pid
    assert local.call("ectestlib:Tools.add", 1, 2) == 3
    assert local.call(os.path.join, "a", "b") == "a/b"
    assert local.call(ectestlib.echo) == [[], {}]


def test_call_refuses_what_has_no_name(local):
    with pytest.raises(ValueError, match="nested function or lambda"):
        local.call(lambda: 1)
    with pytest.raises(TypeError, match="method of an instance"):
        local.call(ectestlib.Tools().hello)
    with pytest.raises(ValueError, match="names no module"):
        local.call("getpid")


VALUES = [None, True, False, 0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 200, -(3 ** 90), 1.5, float("inf"),
          b"", b"\x00\xff", "", "h\u00e9llo \U0001f600", "lone \udcff", [1, [2, [3]]], (1, (2,)),
          {"a": 1, 2: "b", (1, 2): None}, {1, "x"}, frozenset(), bytearray(b"ba"),
          datetime.datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
          datetime.datetime(2024, 5, 1, 12, 30), datetime.date(2024, 5, 1), datetime.time(12, 30, 1),
          datetime.timedelta(days=-1, seconds=5, microseconds=7), datetime.timedelta(0),
          datetime.timedelta(days=3, hours=25, minutes=1), decimal.Decimal("1.10"),
          decimal.Decimal("-Infinity"), uuid.UUID("12345678-1234-5678-1234-567812345678"),
          pathlib.PurePosixPath("/etc/passwd"), signal.SIGTERM]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:40] for v in VALUES])
def test_values_round_trip(local, value):
    got = local.call(ectestlib.identity, value)
    if isinstance(value, bytearray):
        assert got == bytes(value)
    elif isinstance(value, frozenset):
        assert got == set(value)
    else:
        assert got == value
        assert type(got) is type(value) or isinstance(value, pathlib.PurePath)


def test_named_tuples(local):
    st = local.call(os.stat, "/")
    assert st.st_ino == os.stat("/").st_ino
    assert isinstance(st, os.stat_result)


def test_refused_value(local):
    with pytest.raises(econtext.CodecError, match="builtins.object cannot be sent"):
        local.call(ectestlib.identity, object())
    with pytest.raises(TypeError):
        local.call(ectestlib.identity, [1, {2: object()}])
    assert local.call(ectestlib.identity, 5) == 5   # the context is fine afterwards


def test_remote_error(local):
    with pytest.raises(KeyError) as ei:
        local.call(ectestlib.fail, "KeyError", "missing")
    e = ei.value
    assert isinstance(e, econtext.RemoteError) and isinstance(e, econtext.Error)
    assert e.type_name.endswith("KeyError")
    assert "missing" in e.message
    assert "ectestlib.py" in e.traceback and "fail" in e.traceback
    with pytest.raises(econtext.RemoteError) as ei:
        local.call(ectestlib.fail, "custom", "mine")
    assert ei.value.type_name == "ectestlib.Custom"


def test_call_async_and_select(local, master):
    calls = [local.call_async(ectestlib.sleep_then, 0.05 * (i % 3), i) for i in range(10)]
    pending, got = list(calls), []
    while pending:
        ready = econtext.select(pending, timeout=30)
        assert ready
        for c in ready:
            got.append(c.result(timeout=1))
            pending.remove(c)
    assert sorted(got) == list(range(10))
    assert all(c.done() for c in calls)


def test_timeout_then_cancel(local):
    call = local.call_async(ectestlib.sleep_then, 60, "late")
    with pytest.raises(econtext.TimeoutError,
                       match=r"ectestlib.sleep_then has not returned yet \(waited 0.050 s\)"):
        call.result(timeout=0.05)
    assert not call.done()
    assert call.cancel()
    with pytest.raises(econtext.CancelledError):
        call.result(timeout=30)
    assert local.call(ectestlib.identity, "next") == "next"   # the context went on at once
    assert econtext.select([local.call_async(ectestlib.sleep_then, 60, 1)], timeout=0.05) == []


def test_exception_accessor(local):
    call = local.call_async(ectestlib.fail, "ValueError", "v")
    assert isinstance(call.exception(timeout=30), ValueError)
    assert local.call_async(ectestlib.identity, 1).exception(timeout=30) is None


# ---- channels -----------------------------------------------------------------------

def test_channel_both_ways(local):
    ch = local.channel()
    call = local.call_async(ectestlib.doubler, ch)
    with pytest.raises(econtext.TimeoutError,
                       match=r"nothing on the channel of context 'local' \(waited 0.050 s\)"):
        ch.get(timeout=0.05)    # the doubler sends nothing before it is sent something
    for i in range(5):
        ch.send(i)
        assert ch.get(timeout=30) == 2 * i
    ch.close()
    assert call.result(timeout=30) == 5
    with pytest.raises(econtext.EOFError):
        ch.get(timeout=30)


def test_channel_in_select(local):
    ch = local.channel()
    call = local.call_async(chanfn.produce, ch, 1)
    assert econtext.select([ch], timeout=30) == [ch]
    assert ch.get(timeout=1) == 0
    assert call.result(timeout=30) == 1


# ---- connects, errors -------------------------------------------------------------

def test_connect_async_select(master):
    py = INTERPRETERS[-1]
    pending = [master.connect_async("a%d" % i, transport="local", python=py) for i in range(5)]
    ctxs = []
    while pending:
        for c in econtext.select(pending, timeout=60):
            ctxs.append(c.result())
            pending.remove(c)
    assert sorted(c.call(ectestlib.identity, c.name) for c in ctxs) == ["a%d" % i for i in range(5)]
    for c in ctxs:
        c.shutdown()
    with pytest.raises(econtext.ClosedError):
        ctxs[0].call(os.getpid)


def test_unknown_context(master):
    with pytest.raises(econtext.NotFoundError, match="no context named 'nope'"):
        master.connect("nope")


def test_bad_config(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("contexts:\n  a:\n    transport: local\n    bogus_key: 3\n")
    with pytest.raises(econtext.ConfigError) as ei:
        econtext.Master(str(conf))
    assert ei.value.where == "%s:4:5" % conf
    assert "bogus_key" in str(ei.value)


def test_dead_host(master):
    # a port nobody listens on: bind one, then close it
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(econtext.ConnectError) as ei:
        master.connect("dead", transport="ssh", hostname="127.0.0.1", port=port, timeout=20)
    assert "127.0.0.1" in str(ei.value)


def test_boot_error(master):
    with pytest.raises(econtext.BootError, match="/nonexistent/python"):
        master.connect("nopy", transport="local", python="/nonexistent/python")


# ---- logs --------------------------------------------------------------------------

def test_os_system_output_in_log(local, caplog):
    caplog.set_level(logging.INFO, logger="econtext")
    assert local.call(os.system, "echo hello-from-context; echo second-line") == 0
    name = "econtext.ctx.%s.stdout" % local.name

    def seen():
        local.call(ectestlib.identity, None)     # a wait drains the records
        return [r.getMessage() for r in caplog.records if r.name == name]
    wait_for(lambda: seen()[-2:] == ["hello-from-context", "second-line"], "the command's output in the log")


# ---- threads -----------------------------------------------------------------------

def test_many_threads_many_contexts(master):
    py = INTERPRETERS[-1]
    ctxs = [master.connect("t%d" % i, transport="local", python=py) for i in range(4)]
    errors, results = [], []

    def work(k):
        try:
            for i in range(50):
                ctx = ctxs[(k + i) % len(ctxs)]
                results.append(ctx.call(ectestlib.echo, k, i) == [[k, i], {}])
        except Exception as e:  # pragma: no cover
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in ctxs:
        c.shutdown()
    assert not errors
    assert len(results) == 400 and all(results)


def test_threads_wait_in_parallel(local, master):
    """The GIL is released while a call waits: two 0.5 s sleeps in two contexts overlap."""
    other = master.connect("par", transport="local", python=INTERPRETERS[-1])
    done = []
    t = threading.Thread(target=lambda: done.append(other.call(ectestlib.sleep_then, 0.5, 1)))
    start = time.monotonic()
    t.start()
    local.call(ectestlib.sleep_then, 0.5, 2)
    t.join()
    elapsed = time.monotonic() - start
    other.shutdown()
    assert done == [1]
    assert elapsed < 0.95, elapsed


# ---- Ctrl-C ------------------------------------------------------------------------

def test_ctrl_c_cancels_the_call(tmp_path):
    mark = tmp_path / "running"
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent("""
        import os, sys, time
        sys.path.insert(0, %r)
        import econtext, ectestlib
        with econtext.Master() as m, m.connect("local", python=%r) as ctx:
            try:
                ctx.call(ectestlib.mark_and_sleep, %r, 120)
                print("not interrupted")
            except KeyboardInterrupt:
                t = time.monotonic()
                print("interrupted", ctx.call(ectestlib.identity, "free"), time.monotonic() - t < 10)
    """ % (HERE, INTERPRETERS[-1], str(mark))))
    p = subprocess.Popen([sys.executable, str(prog)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: mark.exists() or p.poll() is not None, "the call to start")
        assert p.poll() is None, p.communicate()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out.decode().split() == ["interrupted", "free", "True"], err


# ---- leaks -------------------------------------------------------------------------

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_no_leaks(local):
    value = {"a": [1, 2.5, "x" * 100, b"y" * 100], "b": (None, True)}

    def rounds(n):
        for _ in range(n):
            assert local.call(ectestlib.identity, value) == value
            local.call_async(ectestlib.identity, 1).result(timeout=30)
            try:
                local.call(ectestlib.fail, "ValueError", "x")
            except ValueError:
                pass
    rounds(300)
    gc.collect()
    objects, rss = len(gc.get_objects()), rss_kib()
    rounds(1500)
    gc.collect()
    grown_objects, grown_rss = len(gc.get_objects()) - objects, rss_kib() - rss
    assert grown_objects < 50, grown_objects
    if not os.environ.get("EC_TEST_ASAN"):   # ASan's quarantine holds freed memory
        assert grown_rss < 4096, grown_rss


# ---- the examples (examples/python/) and __main__ ---------------------------------------

def run_example(name, *args, **kw):
    env = dict(os.environ)
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120, **kw)


@pytest.mark.parametrize("py", INTERPRETERS)
def test_example_install_app(tmp_path, py):
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.txt").write_text("app\n")
    subprocess.check_call(["tar", "czf", str(tmp_path / "app.tar.gz"), "-C", str(src), "app.txt"])
    r = run_example("install_app.py", "-o", "transport=local", "-o", "python=" + py, "x",
                    str(tmp_path / "app.tar.gz"), str(tmp_path / "dest"))
    assert r.returncode == 0, r.stderr
    assert b"installed in" in r.stdout and b"app.txt" in r.stdout
    assert (tmp_path / "dest" / "app.txt").read_text() == "app\n"
    assert b"econtext.ctx.x.stdout: app.txt" in r.stderr   # tar's output, in our log


def test_example_uptime():
    if os.environ.get("EC_TEST_ASAN"):
        pytest.skip("uptime(1) hangs with the AddressSanitizer runtime preloaded")
    r = run_example("uptime.py", "-o", "python=" + INTERPRETERS[-1], "local")
    assert r.returncode == 0, r.stderr
    assert b"econtext.ctx.local.stdout: " + os.uname().nodename.encode() in r.stderr
    assert b" up " in r.stderr


def test_example_tail_log(tmp_path):
    log = tmp_path / "grows.log"
    log.write_text("")
    p = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "tail_log.py"), "-o", "python=" + INTERPRETERS[-1],
                          "local", str(log), "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = p.stdout.readline()
        assert first.startswith(b"following "), p.stderr.read()
        lines = []
        for i in range(3):
            with open(str(log), "a") as f:
                f.write("line %d\n" % i)
            lines.append(p.stdout.readline())
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert lines == [b"line 0\n", b"line 1\n", b"line 2\n"]
    assert p.returncode == 0, err


def test_main_block_not_run_in_context(tmp_path):
    prog = tmp_path / "single.py"
    prog.write_text(textwrap.dedent("""
        import os
        RAN_MAIN = []

        def where():
            return __name__, os.getpid(), RAN_MAIN

        if __name__ == "__main__":
            RAN_MAIN.append(1)
            import econtext
            with econtext.Master() as m, m.connect("local", python=%r) as ctx:
                name, pid, ran = ctx.call(where)
                print(name, pid != os.getpid(), ran)
    """ % INTERPRETERS[-1]))
    r = subprocess.run([sys.executable, str(prog)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["__econtext_script__", "True", "[]"]


# ---- sudo ----------------------------------------------------------------------------

def test_sudo_context(master):
    if os.geteuid() != 0:
        pytest.skip("needs root: a sudo context to user nobody without a password")
    if not os.path.exists("/usr/bin/sudo"):
        pytest.skip("no sudo")
    with master.connect("s", transport="sudo", username="nobody", python="/usr/bin/python3") as ctx:
        import pwd
        assert ctx.call(os.getuid) == pwd.getpwnam("nobody").pw_uid
        assert ctx.call(ectestlib.Tools.add, 20, 22) == 42


# ---- ssh (tests/sshd-fixture.sh, started by tests/test_python.sh) ------------------------

def ssh_overrides(**more):
    if not os.environ.get("FX_PORT"):
        pytest.skip("no sshd fixture (tests/sshd-fixture.sh: run through tests/test_python.sh)")
    o = dict(transport="ssh", hostname="127.0.0.1", port=os.environ["FX_PORT"], agent=False,
             identity_file=os.environ["FX_KEY"], known_hosts=os.environ["FX_KNOWN_HOSTS"],
             ssh_config="")
    o.update(more)
    return o


@pytest.mark.parametrize("py", INTERPRETERS)
def test_ssh_context(master, py):
    with master.connect("ssh-" + py.replace("/", "_"), **ssh_overrides(python=py)) as ctx:
        assert ctx.call(ectestlib.Tools.add, 1, 2) == 3
        assert ctx.call(os.getpid) == ctx.pid
        with pytest.raises(KeyError):
            ctx.call(ectestlib.fail, "KeyError", "k")


def test_ssh_password_callback():
    o = ssh_overrides(python="/usr/bin/python3")
    user, password = os.environ.get("FX_PW_USER"), os.environ.get("FX_PW_PASSWORD")
    if not user or not password:
        pytest.skip("no password user in the sshd fixture (needs root)")
    o.update(username=user, identity_file="[]")
    asked = []

    def answer(prompt, context):
        asked.append((prompt, context))
        return password if len(asked) > 1 else "not-the-password"
    with econtext.Master(password=answer) as m:
        with pytest.raises(econtext.AuthError):
            m.connect("pw", **o)
        with m.connect("pw", **o) as ctx:
            assert ctx.call("getpass.getuser") == user
    assert [c for _, c in asked] == ["pw", "pw"]
    assert user in asked[0][0] and "password" in asked[0][0]


def test_example_install_app_ssh(tmp_path):
    o = ssh_overrides(python="/usr/bin/python3")
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.txt").write_text("over ssh\n")
    subprocess.check_call(["tar", "czf", str(tmp_path / "app.tar.gz"), "-C", str(src), "app.txt"])
    args = []
    for k, v in o.items():
        args += ["-o", "%s=%s" % (k, str(v).lower() if isinstance(v, bool) else v)]
    r = run_example("install_app.py", *(args + ["web", str(tmp_path / "app.tar.gz"), str(tmp_path / "dest")]))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dest" / "app.txt").read_text() == "over ssh\n"


def test_example_install_app_sudo():
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/sudo"):
        pytest.skip("needs root and sudo: a sudo context to user nobody without a password")
    import pwd
    import shutil
    import tempfile
    top = tempfile.mkdtemp(prefix="ec-pytest-sudo.")   # nobody reads the tarball here
    try:
        os.chmod(top, 0o755)
        src = os.path.join(top, "src")
        os.mkdir(src)
        with open(os.path.join(src, "app.txt"), "w") as f:
            f.write("as nobody\n")
        tarball = os.path.join(top, "app.tar.gz")
        subprocess.check_call(["tar", "czf", tarball, "-C", src, "app.txt"])
        os.chmod(tarball, 0o644)
        dest = os.path.join(top, "dest")
        os.mkdir(dest)
        os.chown(dest, pwd.getpwnam("nobody").pw_uid, -1)
        r = run_example("install_app.py", "-o", "transport=sudo", "-o", "username=nobody",
                        "-o", "python=/usr/bin/python3", "s", tarball, dest)
        assert r.returncode == 0, r.stderr
        assert os.stat(os.path.join(dest, "app.txt")).st_uid == pwd.getpwnam("nobody").pw_uid
    finally:
        shutil.rmtree(top)


def test_call_timeout_attribute(local):
    assert local.timeout is None
    local.timeout = 0.1
    try:
        with pytest.raises(econtext.TimeoutError, match=r"has not returned yet \(waited 0.100 s\)"):
            local.call(ectestlib.sleep_then, 60, "late")
    finally:
        local.timeout = None
    # the call was cancelled there: the context answers the next one at once
    assert local.call_async(ectestlib.identity, "next").result(timeout=30) == "next"


def test_remote_logging_records(local, caplog):
    caplog.set_level(logging.INFO, logger="econtext")
    local.call("logging.warning", "a warning from %s", "there")
    name = "econtext.ctx.%s" % local.name

    def seen():
        local.call(ectestlib.identity, None)
        return [r for r in caplog.records if r.name.startswith(name) and "a warning from there" in r.getMessage()]
    wait_for(seen, "the context's logging record")
    rec = seen()[0]
    assert rec.levelno == logging.WARNING and rec.context == local.name


def test_no_leaks_channels_selects_connects(master):
    py = INTERPRETERS[-1]

    def rounds(n):
        for i in range(n):
            with master.connect("leak", transport="local", python=py) as ctx:
                ch = ctx.channel()
                call = ctx.call_async(chanfn.produce, ch, 3)
                assert econtext.select([call], timeout=30) == [call]
                assert list(ch) == [0, 1, 2]
                assert call.result() == 3
                try:
                    ctx.call(ectestlib.fail, "KeyError", "k")
                except KeyError:
                    pass
    rounds(5)
    gc.collect()
    objects = len(gc.get_objects())
    rounds(40)
    gc.collect()
    grown = len(gc.get_objects()) - objects
    assert grown < 50, grown


def test_channel_of_a_shut_down_context(master, local):
    other = master.connect("gone", transport="local", python=INTERPRETERS[-1])
    ch = other.channel()
    other.shutdown()
    with pytest.raises(econtext.CodecError, match="freed with its context"):
        local.call(ectestlib.identity, ch)
    with pytest.raises(econtext.ClosedError):
        ch.get(timeout=1)


def test_put_and_get(local, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300000))
    r = local.put(str(src), str(tmp_path / "there.bin"), mode=0o600)
    assert r["changed"] and r["size"] == 300000 and len(r["sha256"]) == 64
    assert local.put(str(src), str(tmp_path / "there.bin"), mode=0o600)["changed"] is False
    g = local.get(str(tmp_path / "there.bin"), str(tmp_path / "back.bin"))
    assert g["sha256"] == r["sha256"]
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    with pytest.raises(econtext.SysError):
        local.put(str(tmp_path / "missing"), str(tmp_path / "x"))


def test_transfer_progress_and_its_exception(local, master, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3000000))
    seen = []
    local.put(str(src), str(tmp_path / "p.bin"), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3000000, 3000000) and all(t == 3000000 for d, t in seen)
    assert [d for d, t in seen] == sorted(d for d, t in seen)
    seen = []
    local.get(str(src), str(tmp_path / "g.bin"), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3000000, 0)  # a get's total is not known as it goes
    seen = []
    master.put_many([local], str(src), str(tmp_path / "m.bin"), progress=lambda d, t: seen.append(d))
    assert seen[-1] == 3000000

    class Enough(Exception):
        pass

    def enough(done, total):
        raise Enough(done)

    # The callable's exception cancels the transfer and is raised: the old file kept,
    # no temporary file left, the context still usable.
    for how in (local.put, local.get, lambda a, b, **kw: master.put_many([local], a, b, **kw)):
        (tmp_path / "old").write_bytes(b"old")
        with pytest.raises(Enough):
            how(str(src), str(tmp_path / "old"), progress=enough)
        assert (tmp_path / "old").read_bytes() == b"old"
        assert not [p for p in tmp_path.iterdir() if ".ec-" in p.name]
    assert local.call(ectestlib.identity, 7) == 7
    with pytest.raises(TypeError, match="progress must be callable"):
        local.put(str(src), str(tmp_path / "x"), progress=3)


def test_put_tree_cancel_ends_it_for_every_context(master, local, tmp_path):
    # Two contexts, each in a directory of its own (a relative remote_dir), "one"
    # already holding the tree's one file: the file goes to "two" only, and the cancel
    # on its first chunk ends the tree for "one" too: what comes after it in the walk
    # (links, empty directories) is made in neither.
    other = master.connect("tree-cancel", transport="local", python=INTERPRETERS[-1])
    was = local.call(os.getcwd)
    try:
        src = tmp_path / "src"
        src.mkdir()
        (src / "a").write_bytes(os.urandom(1 << 20))
        for i in range(12):
            os.symlink("a", str(src / ("l%d" % i)))
            (src / ("e%d" % i)).mkdir()
        for ctx, d in ((local, "one"), (other, "two")):
            (tmp_path / d / "t").mkdir(parents=True)
            ctx.call(os.chdir, str(tmp_path / d))
        (tmp_path / "one" / "t" / "a").write_bytes((src / "a").read_bytes())
        os.utime(str(tmp_path / "one" / "t" / "a"), ns=(0, os.stat(str(src / "a")).st_mtime_ns))
        os.chmod(str(tmp_path / "one" / "t" / "a"), os.stat(str(src / "a")).st_mode & 0o7777)

        class Enough(Exception):
            pass

        def enough(done, total):
            raise Enough(done)

        with pytest.raises(Enough):
            master.put_tree([local, other], str(src), "t", progress=enough)
        one = sorted(os.listdir(str(tmp_path / "one" / "t")))
        two = sorted(os.listdir(str(tmp_path / "two" / "t")))
        assert [n for n in one if n != "a"] == two, (one, two)
        assert not [p for p in (tmp_path / "two" / "t").iterdir() if ".ec-" in p.name]
    finally:
        local.call(os.chdir, was)
        other.shutdown()


def test_progress_callable_cannot_wait_on_its_transfers_contexts(master, local, tmp_path):
    # From the callable, a wait on a context of the transfer would never end (the
    # context waits for this thread's next chunk): refused with a RuntimeError, nothing
    # sent; another context is called as usual; the transfer and the context go on.
    other = master.connect("prog-other", transport="local", python=INTERPRETERS[-1])
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3000000))
    local.timeout = 60  # were it not refused: a failure, not a hang
    try:
        waits = {
            "call()": lambda: local.call(ectestlib.identity, 1),
            "a wait for a call": lambda: local.call_async(ectestlib.identity, 2).result(),
            "put()": lambda: local.put(str(src), str(tmp_path / "x"), timeout=60),
            "get()": lambda: local.get(str(src), str(tmp_path / "x"), timeout=60),
            "put_many()": lambda: master.put_many([local, other], str(src), str(tmp_path / "x"),
                                                  timeout=60),
            "a wait on a channel": lambda: ch.get(timeout=60),  # nothing on it
        }
        ch = local.channel()
        transfers = (  # (the transfer, whether "other" is one of its contexts)
            (lambda **kw: local.put(str(src), str(tmp_path / "p.bin"), **kw), False),
            (lambda **kw: local.get(str(src), str(tmp_path / "g.bin"), **kw), False),
            (lambda **kw: master.put_many([other, local], str(src), str(tmp_path / "m.bin"),
                                          **kw), True))
        for transfer, with_other in transfers:
            seen = {}

            def step(done, total):
                if seen:
                    return
                for what, wait in waits.items():
                    with pytest.raises(RuntimeError) as e:
                        wait()
                    seen[what] = str(e.value)
                if with_other:
                    with pytest.raises(RuntimeError, match="context 'prog-other': call()"):
                        other.call(ectestlib.identity, 3)
                else:
                    seen["other"] = other.call(ectestlib.identity, 3)

            transfer(progress=step)
            for what in waits:
                assert "context 'local': %s from the progress callable of a transfer to it " \
                    "refused" % what in seen[what], seen[what]
            assert with_other or seen["other"] == 3
            assert not (tmp_path / "x").exists()
        assert local.call(ectestlib.identity, 9) == 9
    finally:
        local.timeout = None
        other.shutdown()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
def test_ctrl_c_cancels_a_transfer(local, tmp_path):
    # A SIGINT sent while the transfer is under way (its first progress step waits until
    # it is sent, so it cannot end first) raises KeyboardInterrupt from put() or get():
    # the transfer cancelled, the old file kept.
    src = tmp_path / "big.bin"
    with open(str(src), "wb") as f:
        f.truncate(16 << 20)
    for how in (local.put, local.get):
        (tmp_path / "old").write_bytes(b"old")
        started, sent = threading.Event(), threading.Event()

        def interrupt():
            if started.wait(60):
                os.kill(os.getpid(), signal.SIGINT)
            sent.set()

        def first_step(done, total):
            started.set()
            sent.wait(60)

        t = threading.Thread(target=interrupt)
        t.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                how(str(src), str(tmp_path / "old"), progress=first_step)
        finally:
            started.set()
            t.join()
        assert (tmp_path / "old").read_bytes() == b"old"
        assert not [p for p in tmp_path.iterdir() if ".ec-" in p.name]
    assert local.call(ectestlib.identity, 8) == 8


def test_expand(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("contexts:\n  web1: {transport: local}\n  web2: {transport: local}\n"
                    "  db1: {transport: local}\ngroups:\n  web: [web1, web2]\n")
    with econtext.Master(str(conf)) as m:
        assert m.expand("web") == ["web1", "web2"]
        assert m.expand("db*,web1") == ["db1", "web1"]
        with pytest.raises(econtext.NotFoundError):
            m.expand("nothing*")


# ---- gc and close() from another thread ---------------------------------------------

def process_gone(pid):
    """True once pid has exited (gone, or a zombie nobody reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (IOError, OSError):
        return True


def test_gc_collects_a_cycle_through_the_password_callback():
    """master -> callback -> master (and its context): gc.collect() frees them, the
    contexts' processes go."""
    import weakref
    m = econtext.Master()
    ctxs = [m.connect("gc%d" % i, transport="local", python=INTERPRETERS[-1]) for i in range(2)]
    pids = [c.pid for c in ctxs]
    holder = {"master": m, "contexts": ctxs}

    def password(prompt, context):          # a closure over the master: the cycle
        return str(holder)
    m2 = econtext.Master(password=password)
    holder["other"] = m2
    refs = [weakref.ref(m), weakref.ref(m2)]
    # the cycle: m2 -> password -> holder -> m2 (and m, its contexts)
    del m, m2, ctxs, password, holder
    gc.collect()
    assert [r() for r in refs] == [None, None]
    wait_for(lambda: all(process_gone(p) for p in pids), "the contexts' processes exit")


def test_gc_collects_master_callback_context_cycle():
    import weakref
    box = []
    m = econtext.Master(password=lambda prompt, context: box and str(box[0]) or "")
    ctx = m.connect("gcc", transport="local", python=INTERPRETERS[-1])
    box.append(ctx)                          # m -> lambda -> box -> ctx -> m
    pid = ctx.pid
    ref = weakref.ref(m)
    del m, ctx, box
    gc.collect()
    assert ref() is None
    wait_for(lambda: process_gone(pid), "the context's process exits")


def test_call_exception_traceback_cycle_collected(local):
    import weakref
    c = local.call_async(ectestlib.fail, "KeyError", "k")
    try:
        c.result()
    except econtext.RemoteError as e:
        err = e                              # err -> traceback -> frame -> c -> err
    ref = weakref.ref(err)
    del c, err
    gc.collect()
    assert ref() is None


def waiter(fn, box):
    def run():
        try:
            box.append(("returned", fn()))
        except BaseException as e:           # the verdict is checked by the test
            box.append(("raised", e))
    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("closer", ["context", "with", "master"])
def test_close_while_another_thread_waits_on_a_call(tmp_path, closer):
    mark = tmp_path / "running"
    m = econtext.Master()
    ctx = m.connect("cl", transport="local", python=INTERPRETERS[-1])
    box = []
    t = waiter(lambda: ctx.call(ectestlib.mark_and_sleep, str(mark), 60), box)
    wait_for(mark.exists, "the call runs in the context")
    pid = ctx.pid
    if closer == "context":
        ctx.close()
    elif closer == "with":
        with ctx:
            pass
    else:
        m.close()
    t.join()
    assert len(box) == 1 and box[0][0] == "raised", box
    e = box[0][1]
    assert isinstance(e, (econtext.ClosedError, econtext.CancelledError)), repr(e)
    wait_for(lambda: process_gone(pid), "the context's process exits")
    with pytest.raises(econtext.ClosedError):
        ctx.call(ectestlib.identity, 1)
    m.close()


@pytest.mark.parametrize("closer", ["context", "master"])
def test_close_while_threads_wait_on_channel_and_select(closer):
    m = econtext.Master()
    ctx = m.connect("clch", transport="local", python=INTERPRETERS[-1])
    ch = ctx.channel()
    ch2 = ctx.channel()
    pending = ctx.call_async(ectestlib.sleep_then, 60, 1)
    boxes = [[], [], []]
    threads = [waiter(lambda: ch.get(), boxes[0]),
               waiter(lambda: econtext.select([ch2, pending]), boxes[1]),
               waiter(lambda: pending.result(), boxes[2])]
    # the waiters are in their waits once the master holds them: no clock involved,
    # a short settle only makes it likelier that close() finds them waiting
    time.sleep(0.2)
    (ctx.close if closer == "context" else m.close)()
    for t in threads:
        t.join()
    kinds = (econtext.ClosedError, econtext.CancelledError, econtext.EOFError)
    for box in boxes:
        assert len(box) == 1, box
        if box is boxes[1] and box[0][0] == "returned":
            # select() may see the call settled by the other waiter (its ClosedError)
            assert box[0][1] == [pending] and pending.done()
            with pytest.raises(kinds):
                pending.result()
            continue
        assert box[0][0] == "raised" and isinstance(box[0][1], kinds), box
    m.close()


def test_concurrent_closes_of_one_master():
    m = econtext.Master()
    ctxs = [m.connect("cc%d" % i, transport="local", python=INTERPRETERS[-1]) for i in range(3)]
    calls = [c.call_async(ectestlib.sleep_then, 60, 1) for c in ctxs]
    box = []
    threads = [waiter(c.result, box) for c in calls]
    closers = [threading.Thread(target=m.close), threading.Thread(target=ctxs[1].close),
               threading.Thread(target=m.close)]
    for t in closers:
        t.start()
    for t in closers + threads:
        t.join()
    assert len(box) == 3 and all(k == "raised" for k, _ in box), box
    assert m.closed


# ---- a call's output is logged before the call returns ------------------------------

@pytest.mark.parametrize("py", INTERPRETERS)
def test_output_logged_before_call_returns(master, py, caplog):
    """The context drains its stdout/stderr pipes before the reply: the records of what
    the call printed are in `logging` when call() returns, with no other wait."""
    caplog.set_level(logging.INFO, logger="econtext")
    with master.connect("order", transport="local", python=py) as ctx:
        name = "econtext.ctx.%s.stdout" % ctx.name
        for i in range(20):
            tag = "hi-%d" % i
            assert ctx.call(os.system, "echo " + tag) == 0
            assert tag in [r.getMessage() for r in caplog.records if r.name == name], i
            ctx.call(ectestlib.say, "said-%d" % i)
            assert "said-%d" % i in [r.getMessage() for r in caplog.records if r.name == name]


# ---- put_many, put_tree, get_tree -----------------------------------------------------

def test_put_many_put_tree_get_tree(master, tmp_path):
    py = INTERPRETERS[-1]
    ctxs = [master.connect("pm%d" % i, transport="local", python=py) for i in range(3)]
    try:
        src = tmp_path / "one.bin"
        src.write_bytes(os.urandom(200000))
        # the contexts share this host, so all write the same target (each atomically)
        rs = master.put_many(ctxs, str(src), str(tmp_path / "many.bin"), mode=0o640)
        assert len(rs) == 3 and all(r["size"] == 200000 and len(r["sha256"]) == 64 for r in rs)
        assert (tmp_path / "many.bin").read_bytes() == src.read_bytes()
        assert oct((tmp_path / "many.bin").stat().st_mode & 0o777) == oct(0o640)
        again = master.put_many(ctxs, str(src), str(tmp_path / "many.bin"), mode=0o640)
        assert [r["changed"] for r in again] == [False, False, False]

        tree = tmp_path / "tree"
        (tree / "sub").mkdir(parents=True)
        (tree / "a.txt").write_text("a")
        (tree / "sub" / "b.txt").write_text("bb")
        os.symlink("a.txt", str(tree / "link"))
        rs = master.put_tree(ctxs[:1], str(tree), str(tmp_path / "copy"))
        assert rs[0]["changed"] and rs[0]["size"] == 3
        assert (tmp_path / "copy" / "sub" / "b.txt").read_text() == "bb"
        assert os.readlink(str(tmp_path / "copy" / "link")) == "a.txt"

        g = ctxs[1].get_tree(str(tmp_path / "copy"), str(tmp_path / "back"))
        assert g["changed"] and g["size"] == 3
        assert (tmp_path / "back" / "a.txt").read_text() == "a"
        assert os.readlink(str(tmp_path / "back" / "link")) == "a.txt"

        # a failing context: its error raised, .results has everyone's outcome
        with pytest.raises(econtext.RemoteError) as ei:
            master.put_many(ctxs, str(src), str(tmp_path / "no" / "such" / "dir" / "f"))
        assert len(ei.value.results) == 3
        assert all(isinstance(r, econtext.Error) for r in ei.value.results)
        with pytest.raises(econtext.SysError):
            master.put_many(ctxs, str(tmp_path / "missing"), str(tmp_path / "x"))
        with pytest.raises(TypeError):
            master.put_many(["not a context"], str(src), str(tmp_path / "x"))
        with pytest.raises(ValueError, match="twice"):
            master.put_many([ctxs[0], ctxs[0]], str(src), str(tmp_path / "x"))
    finally:
        for c in ctxs:
            c.shutdown()


def test_close_from_a_handler_inside_the_wait_is_refused():
    """A logging handler runs on the thread that waits (it emits the records between
    slices of the wait): close() there would wait for itself, so it raises."""
    m = econtext.Master()
    ctx = m.connect("inwait", transport="local", python=INTERPRETERS[-1])
    seen = []

    class Closer(logging.Handler):
        def emit(self, record):
            try:
                ctx.close()
                seen.append("closed")
            except RuntimeError as e:
                seen.append(str(e))
    h = Closer(level=logging.INFO)
    lg = logging.getLogger("econtext.ctx.inwait.stdout")
    lg.addHandler(h)
    old = lg.level
    lg.setLevel(logging.INFO)
    try:
        assert ctx.call(os.system, "echo trigger") == 0
    finally:
        lg.removeHandler(h)
        lg.setLevel(old)
    assert seen and "from inside a wait" in seen[0], seen
    assert ctx.call(ectestlib.identity, 5) == 5    # still open
    m.close()
