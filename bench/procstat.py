"""Process helpers for the benchmarks: CPU time and memory of process trees read from
/proc, free ports, a registry that stops everything the benchmark started, a run's common
set-up, and where a benchmark's report goes."""

import datetime
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _read_stat(pid):
    """(ppid, cpu_ticks) of one process, or None if it is gone. cpu_ticks = utime + stime
    + cutime + cstime: the process itself plus the children it has reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])
    return ppid, ticks


def _snapshot():
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _read_stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def tree_pids(roots, table=None):
    """Every live (or zombie) process under the given root pids, roots included."""
    table = table if table is not None else _snapshot()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = set(), [r for r in roots if r in table]
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out.add(pid)
        stack.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(roots):
    """CPU seconds consumed so far by the trees under roots. Children that exited and were
    reaped inside the tree stay counted through their parent's cutime/cstime, so the
    difference of two readings is the tree's CPU use in between (10 ms resolution)."""
    table = _snapshot()
    return sum(table[p][1] for p in tree_pids(roots, table)) / CLOCK_TICKS


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except OSError:
        return 0


def vm_hwm_bytes(pid):
    """Peak resident set size of one process since it started (VmHWM), or 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples the summed RSS of process trees every `interval` seconds in a thread and
    keeps the peak (catches forked children whose own VmHWM dies with them)."""

    def __init__(self, roots_fn, interval=0.05):
        self._roots_fn = roots_fn
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = sum(rss_bytes(p) for p in tree_pids(self._roots_fn()))
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Processes:
    """Every long-running process the benchmark starts is registered here; `stop_all` ends
    them (their whole process group), so an interrupted run leaves nothing behind."""

    def __init__(self):
        self._procs = []
        self._cleanups = []

    def spawn(self, argv, **kwargs):
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def on_cleanup(self, fn):
        """Registers fn to run at stop_all (e.g. stopping a daemonised PostgreSQL)."""
        self._cleanups.append(fn)
        return fn

    def forget_cleanup(self, fn):
        if fn in self._cleanups:
            self._cleanups.remove(fn)

    def stop(self, proc, timeout=60):
        """SIGTERM the process, SIGKILL its group if it has not exited within timeout."""
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(proc)
                proc.wait()
        # Leftover members of its group (e.g. storescp --fork children) go too.
        self._kill_group(proc)
        if proc in self._procs:
            self._procs.remove(proc)
        return proc.returncode

    @staticmethod
    def _kill_group(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop_all(self):
        for proc in list(self._procs):
            self.stop(proc, timeout=15)
        for fn in reversed(list(self._cleanups)):
            try:
                fn()
            except Exception as e:  # cleanup must go on
                print(f"cleanup: {e}", flush=True)
        self._cleanups.clear()


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def system_busy_seconds():
    """CPU seconds all CPUs together have spent busy since boot (everything but idle and
    iowait), from /proc/stat: the difference over a run, minus what the server and the
    clients used, is what other programs took from the benchmark."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] if len(fields) > 7 else 0)
    return busy / CLOCK_TICKS


def write_report(results_dir, name, text):
    """Prints the report and writes it to <results_dir>/<name>-<date and time>.md; returns the path."""
    print(text)
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, f"{name}-{datetime.datetime.now():%Y-%m-%d-%H%M%S}.md")
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")
    print(f"written to {path}", file=sys.stderr, flush=True)
    return path


def start_run(name, parent):
    """What every benchmark run starts with: the environment for DCMTK's tools and Orthanc
    (TCP_NODELAY=1: no 40 ms Nagle stalls), a registry of the processes it starts, SIGTERM
    and SIGHUP turned into KeyboardInterrupt (so that the caller's cleanup runs), and a
    fresh working directory pacsnode-<name>.* under `parent` that the postgres user may
    enter. Returns (env, procs, workdir)."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.makedirs(parent, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=f"pacsnode-{name}.", dir=parent)
    os.chmod(workdir, 0o755)
    return dict(os.environ, TCP_NODELAY="1"), Processes(), workdir
