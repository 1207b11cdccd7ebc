#!/usr/bin/python3
"""Ingest benchmark: C-STORE throughput and CPU cost of pacsnode against DCMTK storescp
(+B, the floor: no index, no fsync) and Orthanc (SQLite index, PostgreSQL index).

Generates a synthetic data set, then in each round runs every scenario against every server
(server order rotated between rounds), each run on a freshly started server with an empty
store, and prints one markdown table per scenario (also written to bench/results/).
See bench/README.md for what the numbers mean.
"""

import argparse
import datetime
import json
import os
import platform
import resource
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
PYTHON = "/usr/bin/python3"  # Debian's, which has pydicom (a pyenv shim may come first in PATH)
SERVER_KEYS = ["pacsnode", "pacsnode-rules", "storescp", "fsync-copy", "orthanc", "orthanc-pg"]
DEFAULT_SERVERS = ["pacsnode", "storescp", "fsync-copy", "orthanc", "orthanc-pg"]  # pacsnode-rules: with --rules
RULES_FILE = os.path.join(BENCH_DIR, "rules20.toml")
# pacsnode's CPU is also read this long after the last storescu (or when routing caught up, if
# later): the same window for pacsnode with and without rules, so that both include the same
# background work (the sweeper, PostgreSQL's writer and autovacuum), and the rules' series and
# study firings (stable_after 20 s) fall inside it.
SETTLE_S = 25
REFERENCES = ["storescp", "fsync-copy", "orthanc", "orthanc-pg"]
MB = 1e6


class Scenario:
    def __init__(self, key, kind, associations, title, rounds=None, nagle=False):
        self.key, self.kind, self.associations, self.title, self.rounds = key, kind, associations, title, rounds
        # The client leaves Nagle's algorithm on (storescu without TCP_NODELAY=1 in its
        # environment, as DCMTK-based modality software ships).
        self.nagle = nagle


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- data set

def generate(dataset_dir, kind, count, studies, huge_mb=None, gen_kind=None):
    """Generates <dataset_dir>/<kind>/ (instances of gen_kind, default kind) unless a
    manifest says it already holds that set."""
    out = os.path.join(dataset_dir, kind)
    manifest = os.path.join(dataset_dir, f"{kind}.json")
    want = {"kind": kind, "count": count, "studies": studies, "huge_mb": huge_mb}
    if os.path.exists(manifest):
        with open(manifest) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} == want and os.path.isdir(out):
            subprocess.run(f"cat {out}/* > /dev/null", shell=True)  # back into the page cache
            return have
        shutil.rmtree(out, ignore_errors=True)
    groups = os.path.join(dataset_dir, "groups")
    for stale in (os.listdir(groups) if os.path.isdir(groups) else []):
        if stale.startswith(f"{kind}-"):
            shutil.rmtree(os.path.join(groups, stale))
    log(f"generating {count} {kind} instances in {out} ...")
    t0 = time.monotonic()
    argv = [PYTHON, os.path.join(BENCH_DIR, "gen_dataset.py"), gen_kind or kind, out, "--count", str(count),
            "--studies", str(studies)]
    if huge_mb:
        argv += ["--huge-mb", str(huge_mb)]
    info = json.loads(subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout)
    info.update(want)
    with open(manifest, "w") as f:
        json.dump(info, f)
    log(f"  {info['bytes'] / MB:.0f} MB in {time.monotonic() - t0:.0f} s")
    return info


def split_groups(dataset_dir, kind, n):
    """Hard-links the files of <kind> round-robin into n directories (storescu +sd scans a
    directory, which keeps thousands of paths off the command line)."""
    base = os.path.join(dataset_dir, "groups", f"{kind}-{n}")
    if os.path.isdir(base):
        return sorted(os.path.join(base, d) for d in os.listdir(base))
    files = sorted(os.listdir(os.path.join(dataset_dir, kind)))
    groups = [os.path.join(base, f"g{i}") for i in range(n)]
    for g in groups:
        os.makedirs(g)
    for i, name in enumerate(files):
        os.link(os.path.join(dataset_dir, kind, name), os.path.join(groups[i % n], name))
    return groups


# ---------------------------------------------------------------------------- one run

def run_once(server, scenario, groups, info, run_dir, env, sample_memory):
    """Starts the server empty, sends the groups over parallel associations, verifies, stops.
    Returns a dict of measurements; 'ok' is False (with 'reason') if anything was lost."""
    result = {"server": server.key, "scenario": scenario.key, "ok": False, "reason": ""}
    try:
        server.start(run_dir)
    except servers.Unavailable as e:
        result["reason"] = f"start failed: {e}"
        return result
    try:
        subprocess.run(["sync"])  # earlier runs' dirty pages are not this run's work
        client_logs = [os.path.join(run_dir, f"storescu-{i}.log") for i in range(len(groups))]
        roots = server.cpu_roots()
        cpu0 = procstat.tree_cpu_seconds(roots)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy0 = procstat.system_busy_seconds()
        sampler = procstat.RssSampler(server.cpu_roots if sample_memory else (lambda: []),
                                      interval=0.05 if sample_memory else 3600)
        client_env = env
        if scenario.nagle:
            client_env = {k: v for k, v in env.items() if k != "TCP_NODELAY"}
        t0 = time.monotonic()
        with sampler:
            clients = []
            for group, client_log in zip(groups, client_logs):
                if hasattr(server, "client_argv"):  # the fsync copy: no network
                    argv = server.client_argv(group)
                else:
                    argv = ["storescu", "-aet", servers.CALLING_AE, "-aec", server.ae, "+sd", "127.0.0.1",
                            str(server.port), group]
                with open(client_log, "wb") as out:
                    clients.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=client_env))
            codes = [c.wait() for c in clients]
            wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy1 = procstat.system_busy_seconds()
        cpu1 = procstat.tree_cpu_seconds(roots)
        result.update(
            wall=wall, instances=info["count"], bytes=info["bytes"],
            server_cpu=cpu1 - cpu0,
            client_cpu=(ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            vm_hwm=procstat.vm_hwm_bytes(server.main_pid()), tree_rss_peak=sampler.peak)
        # CPU that neither the server nor the clients used: other programs (and us).
        result["foreign_cpu"] = max(0.0, (busy1 - busy0) - result["server_cpu"] - result["client_cpu"])
        if hasattr(server, "routing_backlog"):
            # pacsnode routes in the background: also measure until its sweeper has looked at
            # every arrival (instance rules) and every series and study (their rules, after
            # stable_after), so that the rules' cost is counted wherever it falls.
            try:
                caught_up = procstat.wait_until(lambda: server.routing_backlog() == 0, 600, 0.5)
                routed_wall = time.monotonic() - t0
                time.sleep(max(0.0, t0 + wall + SETTLE_S - time.monotonic()))
                result.update(routed=caught_up, routed_wall=routed_wall, settled_wall=time.monotonic() - t0,
                              routed_cpu=procstat.tree_cpu_seconds(roots) - cpu0, jobs=server.routing_jobs())
            except Exception as e:
                result["reason"] = f"could not read the routing backlog: {e}"
                return result
        try:
            stored = server.stored()
        except Exception as e:  # e.g. Orthanc's REST API not answering
            result["reason"] = f"could not count stored instances: {e}"
            return result
        result["stored"] = stored
        errors = [line for p in client_logs for line in open(p, errors="replace") if line.startswith(("E:", "F:"))]
        if stored != info["count"]:
            result["reason"] = f"stored {stored} of {info['count']}"
            if errors:
                result["reason"] += f"; storescu: {errors[0].strip()[:160]}"
        elif any(codes):
            result["reason"] = f"storescu exit status {codes}; {errors[0].strip()[:160] if errors else ''}"
        else:
            result["ok"] = True
    finally:
        server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def foreign_pct(r):
    return 100 * r["foreign_cpu"] / (r["wall"] * os.cpu_count())


def describe(r):
    if not r["ok"]:
        return f"FAILED: {r['reason']}"
    n = r["instances"]
    text = (f"{n} in {r['wall']:.2f} s = {n / r['wall']:.0f} inst/s, {r['bytes'] / MB / r['wall']:.1f} MB/s, "
            f"server CPU {1000 * r['server_cpu'] / n:.2f} ms/inst")
    text += f", unattributed CPU {foreign_pct(r):.0f}%"
    if "routed_cpu" in r:
        text += (f"; routed after {r['routed_wall']:.2f} s{'' if r['routed'] else ' (TIMED OUT)'}, "
                 f"server CPU to {r['settled_wall']:.1f} s {1000 * r['routed_cpu'] / n:.2f} ms/inst, "
                 f"{r['jobs']} job(s)")
    if r.get("tree_rss_peak"):
        text += f", VmHWM {r['vm_hwm'] / 2**20:.0f} MiB, tree RSS peak {r['tree_rss_peak'] / 2**20:.0f} MiB"
    return text


def probe_pacsnode(server, probe_info, probe_groups, workdir, env):
    """pacsnode's C-STORE is recent: check that it stores one instance before benchmarking it."""
    scenario = Scenario("probe", "probe", 1, "probe")
    r = run_once(server, scenario, probe_groups, probe_info, os.path.join(workdir, "runs", "pacsnode-probe"),
                 env, False)
    if not r["ok"]:
        raise servers.Unavailable(f"C-STORE probe: {r['reason']}")


# ---------------------------------------------------------------------------- report

def summarize(runs):
    ok = [r for r in runs if r["ok"]]
    if len(ok) != len(runs) or not runs:
        bad = next((r for r in runs if not r["ok"]), None)
        return {"ok": False, "reason": bad["reason"] if bad else "no runs"}
    ips = [r["instances"] / r["wall"] for r in ok]
    routed = {}
    if all("routed_cpu" in r for r in ok):
        routed = {"routed_cpu_ms": statistics.median(1000 * r["routed_cpu"] / r["instances"] for r in ok),
                  "routed_wall": statistics.median(r["routed_wall"] for r in ok),
                  "jobs": statistics.median(r["jobs"] for r in ok)}
    return routed | {
        "ok": True, "rounds": len(ok),
        "ips": statistics.median(ips), "ips_min": min(ips), "ips_max": max(ips),
        "mbs": statistics.median(r["bytes"] / MB / r["wall"] for r in ok),
        "wall": statistics.median(r["wall"] for r in ok),
        "cpu_ms": statistics.median(1000 * r["server_cpu"] / r["instances"] for r in ok),
        "client_cpu_ms": statistics.median(1000 * r["client_cpu"] / r["instances"] for r in ok),
        "foreign_pct": statistics.median(foreign_pct(r) for r in ok),
        "vm_hwm": max(r["vm_hwm"] for r in ok), "tree_rss_peak": max(r["tree_rss_peak"] for r in ok),
    }


def table(scenario, server_objs, unavailable, summaries, memory):
    refs = [k for k in REFERENCES if k in server_objs and summaries.get(k, {}).get("ok")]
    if memory:  # a handful of instances: wall time and bytes say more than inst/s
        head = ["server", "wall s", "MB/s", "server CPU ms/inst", "client CPU ms/inst", "unattributed CPU %",
                "VmHWM MiB", "tree RSS peak MiB"]
    else:
        head = ["server", "inst/s (median)", "min–max", "MB/s", "server CPU ms/inst", "client CPU ms/inst",
                "unattributed CPU %"]
    routed = any("routed_cpu_ms" in s for s in summaries.values() if s.get("ok"))
    if routed:
        head += [f"server CPU ms/inst, transfer + {SETTLE_S} s (routed after, jobs)"]
    head += [f"× {server_objs[k].label}" for k in refs]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for key, server in server_objs.items():
        if key in unavailable:
            cells = [server.label, f"not available ({unavailable[key]})"] + [""] * (len(head) - 2)
        elif key not in summaries:
            continue
        elif not summaries[key]["ok"]:
            cells = [server.label, f"FAILED ({summaries[key]['reason']})"] + [""] * (len(head) - 2)
        else:
            s = summaries[key]
            if memory:
                cells = [server.label, f"{s['wall']:.1f}", f"{s['mbs']:.0f}"]
            else:
                cells = [server.label, f"{s['ips']:.0f}", f"{s['ips_min']:.0f}–{s['ips_max']:.0f}", f"{s['mbs']:.1f}"]
            cells += [f"{s['cpu_ms']:.2f}", f"{s['client_cpu_ms']:.2f}", f"{s['foreign_pct']:.0f}"]
            if memory:
                cells += [f"{s['vm_hwm'] / 2**20:.0f}", f"{s['tree_rss_peak'] / 2**20:.0f}"]
            if routed:
                cells += [f"{s['routed_cpu_ms']:.2f} ({s['routed_wall']:.1f} s, {s['jobs']:.0f} jobs)"
                          if "routed_cpu_ms" in s else "—"]
            cells += [f"{s['ips'] / summaries[k]['ips']:.2f}" for k in refs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions(pacsnode_binary):
    def first_line(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
            return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
    rev = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    return {
        "pacsnode": first_line([pacsnode_binary, "--version"]) + f" (tree {rev})",
        "storescp": first_line(["storescp", "--version"]).strip("$ "),
        "Orthanc": first_line([servers.ORTHANC, "--version"]),
        "PostgreSQL": first_line([f"{servers.PG_BIN}/postgres", "--version"]),
    }


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    return f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB RAM, Linux {platform.release()}"


# ---------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="200 small + 20 large instances, 1 round (checks the set-up, not a measurement)")
    p.add_argument("--rounds", type=int, help="rounds (default 3, --quick 1)")
    p.add_argument("--servers", default=",".join(DEFAULT_SERVERS), help=f"comma-separated subset of {SERVER_KEYS}")
    p.add_argument("--rules", action="store_true",
                   help="also run pacsnode with the 20 rules of bench/rules20.toml (server pacsnode-rules)")
    p.add_argument("--scenarios", help="comma-separated subset of small-1,small-4,small-8,large-4,small-1-nagle,memory-8 "
                                       "(memory-8 implies --memory)")
    p.add_argument("--memory", action="store_true",
                   help="also run 8 concurrent huge instances (pacsnode's peak RSS), once per server")
    p.add_argument("--memory-servers", default="pacsnode",
                   help="servers that run the --memory scenario (default: pacsnode)")
    p.add_argument("--huge-mb", type=int, help="size of a huge instance in MiB (default 500, --quick 50)")
    p.add_argument("--pacsnode", default=os.path.join(REPO, "build", "app", "pacsnode"), help="pacsnode binary")
    p.add_argument("--workdir", default="/var/tmp",
                   help="where the temporary directory (data set, server stores) goes; same disk for every server")
    p.add_argument("--dataset", help="keep the generated data set in this directory and reuse it next time")
    p.add_argument("--results", default=os.path.join(BENCH_DIR, "results"), help="directory for the results file")
    p.add_argument("--keep", action="store_true", help="leave the temporary directory in place (debugging)")
    args = p.parse_args()

    rounds = args.rounds or (1 if args.quick else 3)
    huge_mb = args.huge_mb or (50 if args.quick else 500)
    small_n, small_studies = (200, 10) if args.quick else (2000, 100)
    large_n, large_studies = (20, 5) if args.quick else (200, 50)
    wanted = [k.strip() for k in args.servers.split(",") if k.strip()]
    if args.rules and "pacsnode-rules" not in wanted:
        wanted.append("pacsnode-rules")
    for k in wanted:
        if k not in SERVER_KEYS:
            p.error(f"unknown server {k}")

    scenarios = [
        Scenario("small-1", "small", 1, f"{small_n} small CT instances (~38 KB), 1 association"),
        Scenario("small-4", "small", 4, f"{small_n} small CT instances (~38 KB), 4 parallel associations"),
        Scenario("small-8", "small", 8, f"{small_n} small CT instances (~38 KB), 8 parallel associations"),
        Scenario("large-4", "large", 4, f"{large_n} large DX instances (~4.2 MB), 4 parallel associations"),
        Scenario("small-1-nagle", "small", 1, f"{small_n} small CT instances (~38 KB), 1 association, the client "
                 "with Nagle's algorithm on (no TCP_NODELAY=1); once per server", rounds=1, nagle=True),
    ]
    if args.scenarios:
        keep = {k.strip() for k in args.scenarios.split(",")}
        unknown = keep - {s.key for s in scenarios} - {"memory-8"}
        if unknown:
            p.error(f"unknown scenario(s) {sorted(unknown)}")
        scenarios = [s for s in scenarios if s.key in keep]
        args.memory = args.memory or "memory-8" in keep
    if args.memory:
        scenarios.append(Scenario("memory-8", "huge", 8,
                                  f"8 huge instances ({huge_mb} MiB each) over 8 parallel associations, "
                                  "once per server", rounds=1))

    env, procs, workdir = procstat.start_run("bench", args.workdir)
    dataset_dir = os.path.abspath(args.dataset) if args.dataset else os.path.join(workdir, "dataset")
    os.makedirs(dataset_dir, exist_ok=True)
    os.chmod(dataset_dir, 0o755)
    os.makedirs(os.path.join(workdir, "runs"), mode=0o755)
    all_servers = {
        "pacsnode": servers.PacsNode(procs, env, args.pacsnode),
        "pacsnode-rules": servers.PacsNode(procs, env, args.pacsnode, RULES_FILE),
        "storescp": servers.StoreScp(procs, env),
        "fsync-copy": servers.FsyncCopy(procs, env),
        "orthanc": servers.Orthanc(procs, env),
        "orthanc-pg": servers.OrthancPg(procs, env, workdir),
    }
    server_objs = {k: all_servers[k] for k in SERVER_KEYS if k in wanted}
    started = time.monotonic()
    try:
        infos = {}
        if any(s.kind == "small" for s in scenarios):
            infos["small"] = generate(dataset_dir, "small", small_n, small_studies)
        if any(s.kind == "large" for s in scenarios):
            infos["large"] = generate(dataset_dir, "large", large_n, large_studies)
        unavailable = {}
        for key, server in server_objs.items():
            try:
                server.check()
                if key in ("pacsnode", "pacsnode-rules"):
                    probe = generate(dataset_dir, "probe", 1, 1, gen_kind="small")
                    probe_pacsnode(server, probe, split_groups(dataset_dir, "probe", 1), workdir, env)
            except servers.Unavailable as e:
                unavailable[key] = str(e).replace("\n", " ")
                log(f"{server.label}: not available ({unavailable[key]})")

        results = []
        for scenario in scenarios:
            if scenario.kind == "huge":
                continue
            split_groups(dataset_dir, scenario.kind, scenario.associations)
        active = [k for k in server_objs if k not in unavailable]
        for rnd in range(rounds):
            order = active[rnd % len(active):] + active[:rnd % len(active)] if active else []
            for scenario in scenarios:
                if scenario.rounds is not None and rnd >= scenario.rounds:
                    continue
                memory = scenario.kind == "huge"
                if memory:
                    mem_keys = [k.strip() for k in args.memory_servers.split(",")]
                    keys = [k for k in order if k in mem_keys]
                    if not keys:
                        continue
                    infos["huge"] = generate(dataset_dir, "huge", 8, 8, huge_mb)
                else:
                    # The copy has no network: a client's Nagle setting means nothing to it.
                    keys = [k for k in order if not (scenario.nagle and k == "fsync-copy")]
                groups = split_groups(dataset_dir, scenario.kind, scenario.associations)
                for key in keys:
                    server = server_objs[key]
                    run_dir = os.path.join(workdir, "runs", f"{key}-{scenario.key}-r{rnd + 1}")
                    r = run_once(server, scenario, groups, infos[scenario.kind], run_dir, env, memory)
                    r["round"] = rnd + 1
                    results.append(r)
                    log(f"[round {rnd + 1}/{rounds}] {scenario.key:8} {server.label:22} {describe(r)}")

        report = render(args, rounds, scenarios, server_objs, unavailable, results, infos, started)
        procstat.write_report(args.results, "ingest-quick" if args.quick else "ingest", report)
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); cleaning up")
        return 130
    finally:
        for server in server_objs.values():
            try:
                server.stop()
            except Exception as e:
                log(f"stopping {server.key}: {e}")
        procs.stop_all()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def render(args, rounds, scenarios, server_objs, unavailable, results, infos, started):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [f"# Ingest benchmark, {now}{' (--quick: a set-up check, not a measurement)' if args.quick else ''}", ""]
    out.append(f"- Machine: {machine()}; client (storescu) and server share these CPUs.")
    for name, version in versions(args.pacsnode).items():
        out.append(f"- {name}: {version}")
    out.append(f"- {rounds} round(s), server order rotated per round; each run starts the server with an empty "
               f"store. Max PDU {servers.MAX_PDU} for every server. Total time {time.monotonic() - started:.0f} s.")
    out.append("- inst/s and MB/s (1 MB = 10^6 bytes): instances sent / wall time of all storescu processes. "
               "CPU ms/inst: user+system CPU of the server's process tree (for pacsnode and Orthanc+PostgreSQL "
               "including the PostgreSQL server), per instance. Unattributed CPU: share of all CPUs busy with "
               "neither server nor clients during the run (kernel writeback, other programs: high = noisy run). "
               "× columns: inst/s ratio to that server. pacsnode routes in the background: 'transfer + "
               f"{SETTLE_S} s' is its server CPU from the first storescu to {SETTLE_S} s after the last one (later "
               "if its sweeper had not yet looked at every arrival, series and study by then), per instance; "
               "'routed after': when it had (series and study rules after their stable_after); jobs: made.")
    out.append(f"- Load average at the end: {open('/proc/loadavg').read().split()[:3]}")
    out.append("")
    for scenario in scenarios:
        runs = [r for r in results if r["scenario"] == scenario.key]
        if not runs and scenario.kind == "huge":
            out += [f"## {scenario.key}: {scenario.title}", "", "not run (no --memory-servers available)", ""]
            continue
        info = infos.get(scenario.kind, {})
        summaries = {}
        for key in server_objs:
            mine = [r for r in runs if r["server"] == key]
            if mine:
                summaries[key] = summarize(mine)
        objs = server_objs
        if scenario.kind == "huge":
            objs = {k: v for k, v in server_objs.items() if k in summaries or k == "pacsnode"}
        out.append(f"## {scenario.key}: {scenario.title}")
        out.append("")
        if info:
            out.append(f"{info['count']} instances, {info['bytes'] / MB:.1f} MB in total.")
            out.append("")
        out.append(table(scenario, objs, unavailable, summaries, scenario.kind == "huge"))
        out.append("")
    out.append("<details><summary>Every run</summary>")
    out.append("")
    for r in results:
        out.append(f"- round {r['round']} {r['scenario']} {r['server']}: {describe(r)}")
    out.append("")
    out.append("</details>")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
