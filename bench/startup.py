#!/usr/bin/python3
"""Start-up benchmark: how long pacsnode takes from `serve` to answering C-ECHO, and how much
memory it needs, with a large store — the start-up reconciliation (scp/reconcile.cpp) lists
every folder of the store and every file path of the index and merges the two.

Fills a node's index through the bulk path (bench/qr_bulk_load.sql, header-only rows), gives
every row a file where the store would put it (empty files: reconciliation lists names, it
does not read files the index knows), then leaves some disorder for reconciliation to find
(rows whose file is gone, interrupted transfers), stops the node and starts it again, with
the page cache warm and after dropping it (cold). See bench/README.md.
"""

import argparse
import ctypes
import datetime
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402
import servers  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
FAN_OUT = 4096  # storage/store.cpp: objects/000 … objects/fff

_xxhash = ctypes.CDLL("libxxhash.so.0")
_xxhash.XXH3_64bits.restype = ctypes.c_uint64
_xxhash.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def relative_path_for(uid):
    """storage::Store::relative_path_for: objects/<XXH3-64 of the UID mod 4096, 3 hex>/<uid>.dcm."""
    b = uid.encode()
    return f"objects/{_xxhash.XXH3_64bits(b, len(b)) % FAN_OUT:03x}/{uid}.dcm"


class PacsNodeInfo(servers.PacsNode):
    """pacsnode logging at info, for its start-up reconciliation line."""

    def prepare(self):
        super().prepare()
        with open(self.config_path) as f:
            text = f.read()
        with open(self.config_path, "w") as f:
            f.write(text.replace('level = "warn"', 'level = "info"'))


def psql(server, *args, **kwargs):
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(servers.as_postgres(["psql", "-X", "-q", "-h", os.path.join(server.data_dir, "pg"), "-U",
                                               "pacsnode", "-d", "pacsnode", "-v", "ON_ERROR_STOP=1", *args]),
                          check=True, text=True, **kwargs)


def fill(server, instances, missing, temp_files):
    """Bulk rows, then a file for each (all but `missing` of them) at the store's path."""
    studies = instances // 10
    t0 = time.monotonic()
    psql(server, "-v", f"studies={studies}", "-f", os.path.join(BENCH_DIR, "qr_bulk_load.sql"),
         stdout=subprocess.DEVNULL)
    log(f"  {instances:,} rows bulk-loaded in {time.monotonic() - t0:.0f} s")
    t0 = time.monotonic()
    rows = psql(server, "-tA", "-c", "SELECT id, sop_instance_uid FROM instance").stdout.split()
    mapping = os.path.join(server.run_dir, "paths.tsv")
    storage = os.path.join(server.data_dir, "storage")
    made = 0
    with open(mapping, "w") as out:
        for n, line in enumerate(rows):
            pk, uid = line.split("|")
            rel = relative_path_for(uid)
            out.write(f"{pk}\t{rel}\n")
            if n >= missing:  # the first `missing` rows get no file: their rows must go
                os.close(os.open(os.path.join(storage, rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
                made += 1
    os.chmod(mapping, 0o644)
    for i in range(temp_files):
        folder = os.path.join(storage, "objects", f"{(i * 37) % FAN_OUT:03x}")
        with open(os.path.join(folder, f".{i:032x}.part"), "wb") as f:
            f.write(b"\0" * 1000)
    psql(server, input="CREATE TEMP TABLE m (id bigint PRIMARY KEY, path text);\n"
                       f"\\copy m FROM '{mapping}'\n"
                       "UPDATE instance i SET file_path = m.path FROM m WHERE m.id = i.id;\n",
         stdout=subprocess.DEVNULL)
    psql(server, "-c", "VACUUM ANALYZE instance", stdout=subprocess.DEVNULL)
    log(f"  {made:,} files made and file paths set in {time.monotonic() - t0:.0f} s")
    return made


def drop_caches():
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def start_measured(server, run_dir):
    t0 = time.monotonic()
    server.start(run_dir, ready_timeout=1800)
    ready = time.monotonic() - t0
    hwm = procstat.vm_hwm_bytes(server.main_pid())
    with open(server.log, errors="replace") as f:
        text = f.read()
    m = re.findall(r"storage .*?: (\d+ instance file.*reconciled: .*)", text)
    return {"ready_s": ready, "vm_hwm": hwm, "line": m[-1] if m else "(no reconciliation line in the log)"}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=1_000_000, help="index rows and files (default 1,000,000)")
    p.add_argument("--missing", type=int, default=1000, help="rows whose file is not made (removed at start)")
    p.add_argument("--temp-files", type=int, default=100, help="leftover .part files (removed at start)")
    p.add_argument("--pacsnode", default=os.path.join(REPO, "build", "app", "pacsnode"), help="pacsnode binary")
    p.add_argument("--workdir", default="/var/tmp", help="where the node's data directory goes")
    p.add_argument("--results", default=os.path.join(BENCH_DIR, "results"), help="directory for the results file")
    args = p.parse_args()

    env, procs, workdir = procstat.start_run("startup", args.workdir)
    server = PacsNodeInfo(procs, env, args.pacsnode)
    run_dir = os.path.join(workdir, "node")
    results = []
    try:
        server.check()
        first = start_measured(server, run_dir)
        log(f"empty store: ready in {first['ready_s']:.1f} s")
        log(f"filling with {args.instances:,} instances ...")
        made = fill(server, args.instances, args.missing, args.temp_files)
        server.stop()
        for label, cold in (("warm page cache", False), ("cold page cache (dropped before the start)", True)):
            if cold and not drop_caches():
                log("cannot drop the page cache (not root?): cold start skipped")
                continue
            r = start_measured(server, run_dir)
            r["label"] = label
            results.append(r)
            log(f"{label}: ready in {r['ready_s']:.1f} s, VmHWM {r['vm_hwm'] / 2**20:.0f} MiB; {r['line']}")
            server.stop()
            # The next start finds a reconciled store: put the disorder back.
            fill_missing(server, args.missing, args.temp_files)
        rev = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                             text=True).stdout.strip()
        lines = [f"# Start-up benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}", "",
                 f"- pacsnode tree {rev}; {os.cpu_count()} CPUs; store and embedded PostgreSQL on {args.workdir}",
                 f"- {args.instances:,} index rows, {made:,} files; {args.missing:,} rows without a file and "
                 f"{args.temp_files} interrupted transfers (.part) for reconciliation to clean up",
                 f"- empty store: ready in {first['ready_s']:.1f} s", "",
                 "| start | serve → C-ECHO answered | pacsnode VmHWM | reconciliation's log line |",
                 "|---|---|---|---|"]
        for r in results:
            lines.append(f"| {r['label']} | {r['ready_s']:.1f} s | {r['vm_hwm'] / 2**20:.0f} MiB | {r['line']} |")
        procstat.write_report(args.results, "startup", "\n".join(lines))
    except servers.Unavailable as e:
        log(f"pacsnode: {e}")
        return 1
    finally:
        server.stop()
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def fill_missing(server, missing, temp_files):
    """Disorder again for the next start: `missing` files removed (their rows stay), and
    .part files."""
    storage = os.path.join(server.data_dir, "storage")
    removed = 0
    for i in range(FAN_OUT):
        folder = os.path.join(storage, "objects", f"{i:03x}")
        for name in sorted(os.listdir(folder)):
            if removed == missing:
                break
            if name.endswith(".dcm"):
                os.unlink(os.path.join(folder, name))
                removed += 1
        if removed == missing:
            break
    for i in range(temp_files):
        folder = os.path.join(storage, "objects", f"{(i * 37) % FAN_OUT:03x}")
        with open(os.path.join(folder, f".{i:032x}.part"), "wb") as f:
            f.write(b"\0" * 1000)


if __name__ == "__main__":
    sys.exit(main())
