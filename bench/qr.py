#!/usr/bin/python3
"""Query/Retrieve benchmark: C-FIND latency inside one association (median and p95 over
repeated queries) and C-MOVE throughput of one study to a DCMTK storescp, for pacsnode,
Orthanc (SQLite index) and Orthanc (PostgreSQL index) on the same 20,000-instance data set
loaded through C-STORE, in one run; then pacsnode alone at 1,000,000 instances loaded
through the bulk path (bench/qr_bulk_load.sql). One client for every server
(pacsnode_bench_qr, built with the project). Prints markdown tables, also written to
bench/results/qr-<date>.md. See the README's "Benchmarks" section.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402
import servers  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
PYTHON = "/usr/bin/python3"
DEST_AE = "BENCHDEST"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def queries_for(info):
    """The six queries; keys are what a viewer's study list asks for."""
    study_keys = {"PatientName": "", "PatientID": "", "StudyDate": "", "StudyTime": "", "AccessionNumber": "",
                  "StudyDescription": "", "ModalitiesInStudy": "", "StudyInstanceUID": "",
                  "NumberOfStudyRelatedInstances": ""}

    def study(**match):
        keys = dict(study_keys)
        keys.update(match)
        return keys
    return [
        {"name": "PatientID exact", "level": "STUDY", "keys": study(PatientID=info["patient_id"])},
        {"name": "PatientName SMITH*", "level": "STUDY", "keys": study(PatientName="SMITH*")},
        {"name": "PatientName *SMITH*", "level": "STUDY", "keys": study(PatientName="*SMITH*")},
        {"name": "StudyDate range (3 months)", "level": "STUDY", "keys": study(StudyDate="20200101-20200331")},
        {"name": "series of one study", "level": "SERIES",
         "keys": {"StudyInstanceUID": info["study_uid"], "SeriesInstanceUID": "", "Modality": "",
                  "SeriesNumber": "", "SeriesDescription": "", "NumberOfSeriesRelatedInstances": ""}},
        {"name": "instances of one series", "level": "IMAGE",
         "keys": {"StudyInstanceUID": info["study_uid"], "SeriesInstanceUID": info["series_uid"],
                  "SOPInstanceUID": "", "SOPClassUID": "", "InstanceNumber": ""}},
    ]


class PacsNodeQr(servers.PacsNode):
    dest_port = None

    def prepare(self):
        super().prepare()
        with open(self.config_path, "a") as f:
            f.write(f'\n[query]\nmax_results = 100000\n\n[[peers]]\nname = "dest"\nae_title = "{DEST_AE}"\n'
                    f'host = "127.0.0.1"\nport = {self.dest_port}\n')


class OrthancQrMixin:
    """Orthanc as a Q/R SCP: the C-MOVE destination known, find and move from any AE, no
    result limits."""
    dest_port = None

    def config(self):
        c = super().config()
        c["DicomModalities"] = {"dest": [DEST_AE, "127.0.0.1", self.dest_port]}
        c["DicomAlwaysAllowFind"] = True
        c["DicomAlwaysAllowMove"] = True
        c["LimitFindResults"] = 0
        c["LimitFindInstances"] = 0
        return c


class OrthancQr(OrthancQrMixin, servers.Orthanc):
    pass


class OrthancPgQr(OrthancQrMixin, servers.OrthancPg):
    pass


def pg_socket_dir(data_dir):
    """Where pacsnode's embedded PostgreSQL puts its socket (app/embedded_postgres.cpp): the
    cluster directory <data_dir>/pg, or /tmp/pacsnode-<FNV-1a of it> when that path is too
    long for a Unix socket."""
    cluster = os.path.normpath(os.path.abspath(os.path.join(data_dir, "pg")))
    if len(os.path.join(cluster, ".s.PGSQL.5432")) <= 107:
        return cluster
    h = 14695981039346656037
    for c in cluster.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "/tmp/pacsnode-%016x" % h


def psql(data_dir, *args, **kwargs):
    return subprocess.run(["psql", "-X", "-q", "-h", pg_socket_dir(data_dir), "-U", "pacsnode", "-d", "pacsnode",
                           "-v", "ON_ERROR_STOP=1", *args], check=True, stdout=subprocess.PIPE, text=True, **kwargs)


def explain_plans(server, client, queries_file, env):
    """The plans of the SQL that the node runs for each query: one pass with every statement
    logged (log_min_duration_statement = 0, applied by a reload: the node is not restarted,
    since its start-up reconciliation would delete the bulk-loaded rows, whose files do not
    exist), then EXPLAIN (ANALYZE, BUFFERS) of each logged SELECT with its parameters
    substituted. Returns [(sql, plan)] in the order the node ran them."""
    def set_logging(value):
        command = f"ALTER SYSTEM SET log_min_duration_statement = {value}" if value is not None \
            else "ALTER SYSTEM RESET log_min_duration_statement"
        psql(server.data_dir, "-c", command, "-c", "SELECT pg_reload_conf()")
        time.sleep(0.5)  # the reload reaches the backends asynchronously

    log_path = os.path.join(server.data_dir, "pg", "log", "postgres.log")
    offset = os.path.getsize(log_path)
    set_logging(0)
    try:
        argv = [client, f"{server.ae}@127.0.0.1:{server.port}", queries_file, "--repeat", "1", "--warmup", "0"]
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)
    finally:
        set_logging(None)
    with open(log_path, errors="replace") as f:
        f.seek(offset)
        text = f.read()
    # Entries start with the log_line_prefix's timestamp; statements may span lines.
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d )", text)
    statements = []
    for k, entry in enumerate(entries):
        m = re.search(r"LOG:  duration: [\d.]+ ms  (?:execute [^:]*|statement): (.*)", entry, re.S)
        if not m:
            continue
        sql = re.sub(r"^DECLARE \w+ (?:NO SCROLL )?(?:BINARY )?CURSOR (?:WITH(?:OUT)? HOLD )?FOR ", "", m.group(1).strip())
        if not sql.upper().startswith(("SELECT", "WITH")) or "pg_reload_conf" in sql:
            continue
        detail = entries[k + 1] if k + 1 < len(entries) else ""
        d = re.search(r"DETAIL:  parameters: (.*)", entry + "\n" + detail, re.S)
        params = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", d.group(1))) if d else {}
        for n in sorted(params, key=int, reverse=True):
            sql = sql.replace(f"${n}", params[n])
        if sql not in statements:
            statements.append(sql)
    plans = []
    for sql in statements:
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", pg_socket_dir(server.data_dir), "-U", "pacsnode",
                            "-d", "pacsnode", "-c", "EXPLAIN (ANALYZE, BUFFERS) " + sql],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        plans.append((sql, r.stdout.strip()))
    return plans


def load(server, dataset_dir, env, parallel=4):
    """storescu, `parallel` processes over a round-robin split of the files."""
    files = sorted(os.listdir(dataset_dir))
    groups = [os.path.join(os.path.dirname(dataset_dir), f"split-{i}") for i in range(parallel)]
    for i, g in enumerate(groups):
        if not os.path.isdir(g):
            os.makedirs(g)
            for name in files[i::parallel]:
                os.link(os.path.join(dataset_dir, name), os.path.join(g, name))
    started = time.monotonic()
    procs = [subprocess.Popen(["storescu", "-aet", servers.CALLING_AE, "-aec", server.ae, "+sd", "-R",
                               "--max-pdu", str(servers.MAX_PDU), "127.0.0.1", str(server.port), g],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for g in groups]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"storescu into {server.label} failed: {codes}")
    return time.monotonic() - started


def measure(client, server, queries_file, repeat, move_uid, env):
    argv = [client, f"{server.ae}@127.0.0.1:{server.port}", queries_file, "--repeat", str(repeat)]
    if move_uid:
        argv += ["--move", move_uid, "--dest", DEST_AE]
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"client failed on {server.label}: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout)


def p95(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def summary(result):
    rows = {}
    for q in result["queries"]:
        rows[q["name"]] = {"matches": q["matches"], "status": q["status"],
                           "median": statistics.median(q["final_ms"]), "p95": p95(q["final_ms"]),
                           "first": statistics.median(q["first_ms"])}
    return rows


def dir_bytes(path):
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.path.getsize(os.path.join(dirpath, n))
            except OSError:
                pass
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=20000)
    p.add_argument("--studies", type=int, default=2000)
    p.add_argument("--move-size", type=int, default=500)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--skip-orthanc", action="store_true", help="pacsnode only at --instances")
    p.add_argument("--million", type=int, default=1000000,
                   help="instances of the bulk-loaded pacsnode run (0: skip it); 10 per series, 1 series per study")
    p.add_argument("--explain", action="store_true",
                   help="after the bulk-loaded run, the plans of the node's SQL (EXPLAIN ANALYZE) go to the report")
    p.add_argument("--pacsnode", default=os.path.join(REPO, "build", "app", "pacsnode"))
    p.add_argument("--client", default=os.path.join(REPO, "build", "bench", "pacsnode_bench_qr"))
    p.add_argument("--workdir", default="/var/tmp")
    p.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    args = p.parse_args()

    env, procs, workdir = procstat.start_run("qr", args.workdir)
    load_before = os.getloadavg()
    results = {}
    loads = {}
    moves = {}
    try:
        data = os.path.join(workdir, "dataset", "files")
        log(f"generating {args.instances} instances in {args.studies} studies ...")
        out = subprocess.run([PYTHON, os.path.join(BENCH_DIR, "gen_qr_dataset.py"), data, "--studies",
                              str(args.studies), "--instances", str(args.instances), "--move-size",
                              str(args.move_size)], check=True, stdout=subprocess.PIPE, text=True).stdout
        info = json.loads(out)
        queries_file = os.path.join(workdir, "queries.json")
        with open(queries_file, "w") as f:
            json.dump(queries_for(info), f)
        move_bytes = sum(os.path.getsize(os.path.join(data, n)) for n in sorted(os.listdir(data))[:args.move_size])

        candidates = [("pacsnode", PacsNodeQr(procs, env, args.pacsnode))]
        if not args.skip_orthanc:
            candidates += [("orthanc", OrthancQr(procs, env)), ("orthanc-pg", OrthancPgQr(procs, env, workdir))]
        for key, server in candidates:
            dest = servers.StoreScp(procs, env)
            try:
                server.check()
                dest.ae = DEST_AE
                dest.start(os.path.join(workdir, "runs", key + "-dest"))
                server.dest_port = dest.port
                server.start(os.path.join(workdir, "runs", key))
                log(f"{server.label}: loading {args.instances} instances ...")
                loads[key] = load(server, data, env)
                log(f"{server.label}: loaded in {loads[key]:.0f} s; querying ...")
                result = measure(args.client, server, queries_file, args.repeat, info["move_study_uid"], env)
                results[key] = summary(result)
                m = result["move"]
                moves[key] = {"ms": m["ms"], "completed": m["completed"], "failed": m["failed"],
                              "status": m["status"], "received": dest.stored()}
            except (servers.Unavailable, RuntimeError) as e:
                log(f"{server.label}: not measured: {e}")
            finally:
                server.stop()
                dest.stop()

        million = None
        if args.million:
            server = PacsNodeQr(procs, env, args.pacsnode)
            server.dest_port = procstat.free_port()
            try:
                server.start(os.path.join(workdir, "runs", "pacsnode-million"))
                studies = args.million // 10
                log(f"pacsnode: bulk-loading {args.million} instances / {studies} studies ...")
                started = time.monotonic()
                sock = os.path.join(server.data_dir, "pg")
                subprocess.run(["psql", "-q", "-h", sock, "-U", "pacsnode", "-d", "pacsnode", "-v",
                                f"studies={studies}", "-f", os.path.join(BENCH_DIR, "qr_bulk_load.sql")],
                               check=True, stdout=subprocess.DEVNULL)
                bulk_s = time.monotonic() - started
                # A patient and a study in the middle of the bulk set.
                uid = f"1.2.826.0.1.3680043.10.1337.7.{studies // 2}"
                big = {"patient_id": "BP%07d" % (studies // 4), "study_uid": uid, "series_uid": uid + ".1"}
                mq = os.path.join(workdir, "queries-million.json")
                with open(mq, "w") as f:
                    json.dump(queries_for(big), f)
                log(f"pacsnode: querying at {args.million:,} ...")
                million = {"rows": summary(measure(args.client, server, mq, args.repeat, None, env)),
                           "bulk_s": bulk_s, "instances": args.million, "studies": studies, "plans": []}
                if args.explain:
                    log("pacsnode: one more pass with every statement logged, then EXPLAIN ANALYZE ...")
                    try:
                        million["plans"] = explain_plans(server, args.client, mq, env)
                    except (subprocess.SubprocessError, OSError, servers.Unavailable) as e:
                        log(f"pacsnode: no plans: {e}")
            finally:
                server.stop()
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    lines = report(args, results, loads, moves, move_bytes if results else 0, million, load_before, os.getloadavg())
    procstat.write_report(args.results, "qr", "\n".join(lines))


def report(args, results, loads, moves, move_bytes, million, load_before, load_after):
    labels = {"pacsnode": "pacsnode", "orthanc": "Orthanc (SQLite)", "orthanc-pg": "Orthanc (PostgreSQL)"}
    keys = [k for k in ("pacsnode", "orthanc", "orthanc-pg") if k in results]
    others = [k for k in keys if k != "pacsnode"] if "pacsnode" in keys else []
    out = [f"Run {datetime.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores; load average (1 min) "
           f"{load_before[0]:.1f} before, {load_after[0]:.1f} after.", ""]
    out += [f"## C-FIND latency inside one association, {args.instances:,} instances / {args.studies:,} studies",
            "", f"Median / p95 ms from the request to the final response, {args.repeat} repetitions after 3 "
            "warm-ups. Ratio: Orthanc's median ÷ pacsnode's (target ≥ 5).", ""]
    head = "| query | matches | " + " | ".join(labels[k] for k in keys)
    head += "".join(f" | {labels[k]} ÷ pacsnode" for k in others) + " |"
    out += [head, "|" + "---|" * (2 + len(keys) + len(others))]
    names = list(next(iter(results.values())).keys()) if results else []
    for name in names:
        cells = [f"{results[k][name]['median']:.1f} / {results[k][name]['p95']:.1f}" for k in keys]
        ratios = [f"{results[k][name]['median'] / max(results['pacsnode'][name]['median'], 1e-6):.1f}" for k in others]
        matches = "/".join(str(results[k][name]["matches"]) for k in keys)
        out.append(f"| {name} | {matches} | " + " | ".join(cells) + "".join(f" | {r}" for r in ratios) + " |")
    out += ["", f"## C-MOVE of a {args.move_size}-instance study (256×256×16-bit, "
                f"{move_bytes / 1e6:.0f} MB) to DCMTK storescp (`--fork +B`, on disk)", "",
            "Timed from the C-MOVE request to its final response, in the association of the queries. "
            "Ratio: pacsnode's throughput ÷ the server's (target ≥ 1).", "",
            "| server | time (s) | instances/s | MB/s | completed / failed | files at storescp | pacsnode ÷ server |",
            "|---|---|---|---|---|---|---|"]
    for k in keys:
        if k in moves:
            m = moves[k]
            s = m["ms"] / 1000
            ratio = ""
            if k != "pacsnode" and "pacsnode" in moves:
                ratio = f"{m['ms'] / max(moves['pacsnode']['ms'], 1e-6):.1f}"
            out.append(f"| {labels[k]} | {s:.2f} | {m['completed'] / s:.0f} | {move_bytes / 1e6 / s:.1f} | "
                       f"{m['completed']} / {m['failed']} | {m['received']} | {ratio} |")
    if loads:
        out += ["", "Load through C-STORE (4 storescu processes): " +
                ", ".join(f"{labels[k]} {loads[k]:.0f} s" for k in keys if k in loads)]
    if million:
        out += ["", f"## pacsnode alone at {million['instances']:,} instances / {million['studies']:,} studies",
                "", f"Index filled through the bulk path (bench/qr_bulk_load.sql) in {million['bulk_s']:.0f} s. "
                f"Median / p95 over {args.repeat} repetitions (target: median < 10 ms).", "",
                "| query | matches | median ms (final) | p95 ms | median ms to the first response | "
                "µs per further match |", "|---|---|---|---|---|---|"]
        for name, r in million["rows"].items():
            per = f"{(r['median'] - r['first']) * 1000 / (r['matches'] - 1):.0f}" if r["matches"] > 1 else ""
            out.append(f"| {name} | {r['matches']} | {r['median']:.1f} | {r['p95']:.1f} | {r['first']:.1f} | {per} |")
        if million["plans"]:
            out += ["", "### Plans (EXPLAIN (ANALYZE, BUFFERS) of the SQL the node ran, after the timed pass)"]
            for sql, plan in million["plans"]:
                out += ["", "```sql", sql, "```", "```", plan, "```"]
    return out


if __name__ == "__main__":
    main()
