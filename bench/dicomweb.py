#!/usr/bin/python3
"""DICOMweb benchmark: QIDO-RS latency (median and p95 of repeated queries on one keep-alive
connection) and WADO-RS series retrieve throughput (MB/s of the multipart body), for
pacsnode and Orthanc with its DICOMweb plug-in (SQLite index), on the same data set loaded
through C-STORE, in one run, as ratios. Prints a markdown table, also written to
bench/results/dicomweb-<date>.md. See the README's "Benchmarks" section.

usage: bench/dicomweb.sh [--instances N] [--studies N] [--series-size N] [--repeat N]
"""
import argparse
import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402
import servers  # noqa: E402
from qr import load  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
PYTHON = "/usr/bin/python3"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
ACCEPT_INSTANCES = 'multipart/related; type="application/dicom"'


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def queries_for(info):
    """What a viewer's study list and its series/instance panels ask for."""
    return [
        ("PatientID exact", "/studies", {"PatientID": info["patient_id"]}),
        ("PatientName SMITH*", "/studies", {"PatientName": "SMITH*"}),
        ("StudyDate range (3 months)", "/studies", {"StudyDate": "20200101-20200331"}),
        ("all studies, limit 100", "/studies", {"limit": "100"}),
        ("series of one study", f"/studies/{info['study_uid']}/series", {}),
        ("instances of one series", f"/studies/{info['study_uid']}/series/{info['series_uid']}/instances", {}),
    ]


class PacsNodeWeb(servers.PacsNode):
    http_port = None

    def prepare(self):
        super().prepare()
        self.http_port = procstat.free_port()
        with open(self.config_path, "a") as f:
            f.write(f"\n[query]\nmax_results = 100000\n\n[http]\nenabled = true\nport = {self.http_port}\n")

    def root(self):
        return "/dicom-web"


class OrthancWeb(servers.Orthanc):
    label = "Orthanc + DICOMweb plug-in (SQLite)"

    def check(self):
        super().check()
        if not os.path.exists(DICOMWEB_PLUGIN):
            raise servers.Unavailable(f"{DICOMWEB_PLUGIN} not installed (Debian package orthanc-dicomweb)")

    def config(self):
        c = super().config()
        c["Plugins"] = [DICOMWEB_PLUGIN]
        c["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
        return c

    def root(self):
        return "/dicom-web"


def get(conn, path, accept, sink=False):
    """One GET on a keep-alive connection: (status, body bytes or byte count)."""
    conn.request("GET", path, headers={"Accept": accept})
    r = conn.getresponse()
    if sink:
        n = 0
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        return r.status, n
    return r.status, r.read()


def measure_qido(server, queries, repeat):
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=300)
    out = []
    for name, path, params in queries:
        url = server.root() + path + ("?" + urllib.parse.urlencode(params) if params else "")
        status, body = get(conn, url, "application/dicom+json")
        matches = len(json.loads(body)) if status == 200 and body else 0
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            status, body = get(conn, url, "application/dicom+json")
            times.append(time.perf_counter() - t)
            if status not in (200, 204):
                raise RuntimeError(f"{server.label}: {url} answered {status}: {body[:200]!r}")
        out.append({"name": name, "matches": matches, "median_ms": statistics.median(times) * 1000,
                    "p95_ms": sorted(times)[max(0, int(len(times) * 0.95) - 1)] * 1000})
    conn.close()
    return out


def measure_wado(server, study_uid, series_uid, repeat):
    """curl (C, not Python, so that the client is not what is measured) fetches the series
    into /dev/null; its own timer from the request to the last byte."""
    url = f"http://127.0.0.1:{server.http_port}{server.root()}/studies/{study_uid}/series/{series_uid}"
    rates, size = [], 0
    for i in range(repeat + 1):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Accept: {ACCEPT_INSTANCES}", "-w",
                            "%{http_code} %{size_download} %{time_total}", url],
                           stdout=subprocess.PIPE, text=True, timeout=600)
        status, n, took = r.stdout.split()
        if status != "200":
            raise RuntimeError(f"{server.label}: {url} answered {status}")
        size = int(n)
        if i > 0:  # the first warms the page cache
            rates.append(size / float(took) / 1e6)
    return {"bytes": size, "mb_s": statistics.median(rates)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=10000)
    p.add_argument("--studies", type=int, default=1000)
    p.add_argument("--series-size", type=int, default=500, help="instances (256x256) of the retrieved series")
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--wado-repeat", type=int, default=5)
    p.add_argument("--pacsnode", default=os.path.join(REPO, "build", "app", "pacsnode"))
    p.add_argument("--workdir", default="/var/tmp")
    p.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    args = p.parse_args()

    env, procs, workdir = procstat.start_run("dicomweb", args.workdir)
    results = {}
    try:
        data = os.path.join(workdir, "dataset", "files")
        log(f"generating {args.instances} instances in {args.studies} studies ...")
        out = subprocess.run([PYTHON, os.path.join(BENCH_DIR, "gen_qr_dataset.py"), data, "--studies",
                              str(args.studies), "--instances", str(args.instances), "--move-size",
                              str(args.series_size)], check=True, stdout=subprocess.PIPE, text=True).stdout
        info = json.loads(out)
        queries = queries_for(info)
        for server in (PacsNodeWeb(procs, env, args.pacsnode), OrthancWeb(procs, env)):
            try:
                server.check()
                server.start(os.path.join(workdir, server.key))
            except servers.Unavailable as e:
                log(f"{server.label}: skipped ({e})")
                continue
            try:
                log(f"{server.label}: loading ...")
                load(server, data, env)
                log(f"{server.label}: QIDO-RS ...")
                qido = measure_qido(server, queries, args.repeat)
                log(f"{server.label}: WADO-RS series retrieve ...")
                wado = measure_wado(server, info["move_study_uid"], info["move_study_uid"] + ".1", args.wado_repeat)
                results[server.key] = {"label": server.label, "qido": qido, "wado": wado}
            finally:
                server.stop()
    finally:
        procs.stop_all()
        subprocess.run(["rm", "-rf", workdir])
    report(args, results)


def report(args, results):
    lines = [f"# DICOMweb benchmark, {datetime.date.today().isoformat()}", "",
             f"{args.instances} instances in {args.studies} studies (one series of {args.series_size} 256×256 CT "
             f"instances retrieved), loaded by storescu; {args.repeat} runs per query on one keep-alive connection, "
             f"the median of {args.wado_repeat} retrieves after one warm-up; `nproc` = {os.cpu_count()}.", ""]
    p, o = results.get("pacsnode"), results.get("orthanc")
    lines += ["| QIDO-RS query | matches | pacsnode median (p95) ms | Orthanc median (p95) ms | Orthanc / pacsnode |",
              "|---|---|---|---|---|"]
    for i, q in enumerate((p or o)["qido"]):
        pq = p["qido"][i] if p else None
        oq = o["qido"][i] if o else None
        ratio = f"{oq['median_ms'] / pq['median_ms']:.1f}×" if pq and oq else "—"
        lines.append(f"| {q['name']} | {q['matches']}"
                     f"{'' if not (pq and oq) or pq['matches'] == oq['matches'] else ' (Orthanc: %d)' % oq['matches']} | "
                     f"{'%.2f (%.2f)' % (pq['median_ms'], pq['p95_ms']) if pq else '—'} | "
                     f"{'%.2f (%.2f)' % (oq['median_ms'], oq['p95_ms']) if oq else '—'} | {ratio} |")
    lines += ["", "| WADO-RS series retrieve | MB | pacsnode MB/s | Orthanc MB/s | pacsnode / Orthanc |", "|---|---|---|---|---|"]
    if p or o:
        pw, ow = (p or {}).get("wado"), (o or {}).get("wado")
        ratio = f"{pw['mb_s'] / ow['mb_s']:.1f}×" if pw and ow else "—"
        lines.append(f"| {args.series_size} instances | {((pw or ow)['bytes']) / 1e6:.1f} | "
                     f"{'%.0f' % pw['mb_s'] if pw else '—'} | {'%.0f' % ow['mb_s'] if ow else '—'} | {ratio} |")
    procstat.write_report(args.results, "dicomweb", "\n".join(lines))


if __name__ == "__main__":
    main()
