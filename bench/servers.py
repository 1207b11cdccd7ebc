"""The storage SCPs the ingest benchmark compares. Each adapter starts its server on loopback
with an empty store, waits until it answers C-ECHO, reports the processes whose CPU time is
the server's cost, counts what it stored, and stops it."""

import json
import os
import shutil
import subprocess
import urllib.request

import procstat

PG_BIN = "/usr/lib/postgresql/15/bin"
ORTHANC = "/usr/sbin/Orthanc"
ORTHANC_PG_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so"
CALLING_AE = "BENCHSCU"
# Every server is offered the same maximum PDU: storescp and Orthanc default to 16 KiB,
# pacsnode to 128 KiB; with unequal values we would be comparing PDU sizes.
MAX_PDU = 131072
# Orthanc serves at most DicomThreadsCount associations at once (default 4); the widest
# scenario opens 8, so give it 8 threads rather than let associations queue.
MAX_PARALLEL = 8


class Unavailable(Exception):
    """The server cannot be benchmarked; the message says why."""


def as_postgres(argv):
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--"] + argv if os.geteuid() == 0 else argv


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


def count_dicom_files(root, skip_pg=True):
    """Files under root that carry the DICOM Part 10 magic ('DICM' at offset 128), skipping
    PostgreSQL cluster directories (those holding PG_VERSION)."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_pg and "PG_VERSION" in filenames:
            dirnames[:] = []
            continue
        for name in filenames:
            try:
                with open(os.path.join(dirpath, name), "rb") as f:
                    f.seek(128)
                    if f.read(4) == b"DICM":
                        count += 1
            except OSError:
                pass
    return count


def echo_ok(ae, port, env):
    r = subprocess.run(["echoscu", "-aet", CALLING_AE, "-aec", ae, "-to", "5", "127.0.0.1", str(port)],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


class Server:
    key = ""
    label = ""
    ae = ""

    def __init__(self, procs, env):
        self.procs = procs
        self.env = env
        self.proc = None
        self.port = None
        self.run_dir = None
        self.log = None

    def check(self):
        """Raises Unavailable if the server cannot run on this machine."""

    def argv(self):
        raise NotImplementedError

    def prepare(self):
        """Writes configuration into self.run_dir before the start."""

    def start(self, run_dir, ready_timeout=120):
        self.run_dir = run_dir
        os.makedirs(run_dir, exist_ok=True)
        os.chmod(run_dir, 0o755)
        self.port = procstat.free_port()
        self.prepare()
        self.log = os.path.join(run_dir, "server.log")
        with open(self.log, "wb") as log:
            self.proc = self.procs.spawn(self.argv(), stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         cwd=run_dir)

        def ready():
            if self.proc.poll() is not None:
                return True
            return echo_ok(self.ae, self.port, self.env)

        if not procstat.wait_until(ready, ready_timeout, 0.2) or self.proc.poll() is not None:
            code = self.proc.poll()
            self.stop()
            what = f"exited with status {code}" if code is not None else f"no C-ECHO answer after {ready_timeout} s"
            raise Unavailable(f"{what}; log: {tail(self.log, 3) or '(empty)'}")

    def cpu_roots(self):
        return [self.proc.pid]

    def main_pid(self):
        return self.proc.pid

    def stored(self):
        raise NotImplementedError

    def stop(self):
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None


class StoreScp(Server):
    key = "storescp"
    label = "storescp +B --fork"
    ae = "STORESCP"

    def check(self):
        if shutil.which("storescp") is None:
            raise Unavailable("storescp not installed (Debian package dcmtk)")

    def prepare(self):
        self.out = os.path.join(self.run_dir, "store")
        os.makedirs(self.out)

    def argv(self):
        # --fork: one child per association. Without it storescp serves one association at a
        # time and the parallel scenarios would measure queueing.
        return ["storescp", "--fork", "+B", "--max-pdu", str(MAX_PDU), "-aet", self.ae, "-od", self.out,
                str(self.port)]

    def stored(self):
        return count_dicom_files(self.out)


class FsyncCopy(Server):
    """Not a server: the disk's own cost of durable instances (bench/fsync_copy.py), one copy
    process per association of the scenario, into a store laid out like pacsnode's. Its CPU
    is the copy processes' (reported as client CPU; the server's is 0)."""
    key = "fsync-copy"
    label = "per-file fsync copy (no network)"
    ae = ""
    SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fsync_copy.py")

    def start(self, run_dir, ready_timeout=120):
        self.run_dir = run_dir
        self.out = os.path.join(run_dir, "store")
        for i in range(4096):
            os.makedirs(os.path.join(self.out, "objects", f"{i:03x}"))
        self.port = 0

    def client_argv(self, group):
        return ["/usr/bin/python3", self.SCRIPT, group, self.out]

    def cpu_roots(self):
        return []

    def main_pid(self):
        return None

    def stored(self):
        return count_dicom_files(self.out)

    def stop(self):
        pass


class Orthanc(Server):
    key = "orthanc"
    label = "Orthanc (SQLite)"
    ae = "ORTHANC"

    def check(self):
        if not os.access(ORTHANC, os.X_OK):
            raise Unavailable(f"{ORTHANC} not installed (Debian package orthanc)")

    def config(self):
        return {
            "Name": "bench",
            "StorageDirectory": os.path.join(self.run_dir, "storage"),
            "IndexDirectory": os.path.join(self.run_dir, "index"),
            "DicomAet": self.ae,
            "DicomPort": self.port,
            "DicomCheckCalledAet": False,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "MaximumPduLength": MAX_PDU,
            "DicomThreadsCount": MAX_PARALLEL,
            # Defaults written out so the table's footnotes are checkable: each instance is
            # fsync'ed (SyncStorageArea), stored uncompressed, and indexed.
            "SyncStorageArea": True,
            "StorageCompression": False,
            "Plugins": [],
        }

    def prepare(self):
        self.http_port = procstat.free_port()
        path = os.path.join(self.run_dir, "orthanc.json")
        with open(path, "w") as f:
            json.dump(self.config(), f, indent=2)
        self.config_path = path

    def argv(self):
        return [ORTHANC, self.config_path]

    def stored(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/statistics", timeout=30) as r:
            return int(json.load(r)["CountInstances"])


class PgCluster:
    """A throw-away PostgreSQL 15 cluster, Unix socket only, PostgreSQL's default settings
    (fsync and synchronous_commit on). Started once; each run gets a fresh database."""

    def __init__(self, procs, base_dir):
        self.procs = procs
        self.dir = os.path.join(base_dir, "pgcluster")
        self.socket_dir = os.path.join(base_dir, "pgsocket")
        self.port = procstat.free_port()
        self.started = False

    def _run(self, argv, check=True):
        r = subprocess.run(as_postgres(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and r.returncode != 0:
            raise Unavailable(f"{os.path.basename(argv[0])} failed: {r.stdout.strip()[-300:]}")
        return r.stdout

    def start(self):
        if self.started:
            return
        for d in (self.dir, self.socket_dir):
            os.makedirs(d, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(d, "postgres", "postgres")
            os.chmod(d, 0o700)
        self._run([f"{PG_BIN}/initdb", "-D", self.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-sync", "--locale=C"])
        self.procs.on_cleanup(self.stop)
        opts = f"-c listen_addresses='' -k {self.socket_dir} -p {self.port}"
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.dir, "-l", os.path.join(self.dir, "server.log"), "-o", opts,
                   "-w", "-t", "60", "start"])
        self.started = True

    def sql(self, statement, db="postgres"):
        return self._run(["psql", "-h", self.socket_dir, "-p", str(self.port), "-U", "postgres", "-d", db,
                          "-v", "ON_ERROR_STOP=1", "-Atc", statement]).strip()

    def postmaster_pid(self):
        with open(os.path.join(self.dir, "postmaster.pid")) as f:
            return int(f.readline())

    def stop(self):
        if self.started:
            self.started = False
            self._run([f"{PG_BIN}/pg_ctl", "-D", self.dir, "-m", "immediate", "-w", "-t", "60", "stop"],
                      check=False)
            self.procs.forget_cleanup(self.stop)


class OrthancPg(Orthanc):
    key = "orthanc-pg"
    label = "Orthanc (PostgreSQL)"
    ae = "ORTHANCPG"

    def __init__(self, procs, env, base_dir):
        super().__init__(procs, env)
        self.cluster = PgCluster(procs, base_dir)
        self.database = None
        self.runs = 0

    def check(self):
        super().check()
        if not os.path.exists(ORTHANC_PG_PLUGIN):
            raise Unavailable(f"{ORTHANC_PG_PLUGIN} not installed (Debian package orthanc-postgresql)")
        if not os.access(f"{PG_BIN}/initdb", os.X_OK):
            raise Unavailable(f"{PG_BIN}/initdb not found (Debian package postgresql-15)")

    def config(self):
        config = super().config()
        config["Plugins"] = [ORTHANC_PG_PLUGIN]
        # The plugin's defaults (4.0): one index connection, database lock on.
        config["PostgreSQL"] = {
            "EnableIndex": True,
            "EnableStorage": False,
            "Host": self.cluster.socket_dir,
            "Port": self.cluster.port,
            "Database": self.database,
            "Username": "postgres",
            "Password": "",
        }
        return config

    def prepare(self):
        self.cluster.start()
        self.runs += 1
        self.database = f"orthanc{self.runs}"
        self.cluster.sql(f"CREATE DATABASE {self.database}")
        super().prepare()

    def cpu_roots(self):
        return [self.proc.pid, self.cluster.postmaster_pid()]

    def stop(self):
        super().stop()
        if self.database and self.cluster.started:
            self.cluster.sql(f"DROP DATABASE IF EXISTS {self.database}")
            # Flush now so that this run's dirty pages are not written during the next run.
            self.cluster.sql("CHECKPOINT")
            self.database = None


class PacsNode(Server):
    key = "pacsnode"
    label = "pacsnode"
    ae = "PACSNODE"

    def __init__(self, procs, env, binary, rules_file=None):
        """With rules_file: the same node with those [[rules]] (bench/rules20.toml), a peer
        "archive" declared on a port where nothing listens, and one attempt per job."""
        super().__init__(procs, env)
        self.binary = binary
        self.rules_file = rules_file
        if rules_file:
            self.key = "pacsnode-rules"
            self.label = "pacsnode + 20 rules"

    def check(self):
        if not os.access(self.binary, os.X_OK):
            raise Unavailable(f"{self.binary} is not built (run scripts/build)")

    def prepare(self):
        self.data_dir = os.path.join(self.run_dir, "data")
        self.config_path = os.path.join(self.run_dir, "pacsnode.toml")
        with open(self.config_path, "w") as f:
            f.write(f'[node]\nae_title = "{self.ae}"\nbind = "127.0.0.1"\nport = {self.port}\n'
                    f'data_dir = "{self.data_dir}"\nmax_pdu_length = {MAX_PDU}\n\n'
                    f'[logging]\nlevel = "warn"\n')
            if self.rules_file:
                with open(self.rules_file) as rules:
                    f.write("\n[jobs]\nmax_attempts = 1\n\n[[peers]]\nname = \"archive\"\nae_title = \"ARCHIVE\"\n"
                            f"host = \"127.0.0.1\"\nport = {procstat.free_port()}\n\n" + rules.read())

    def _psql(self, query):
        """One value from the node's embedded database (its socket is in the cluster dir)."""
        for dirpath, _, filenames in os.walk(self.data_dir):
            if "postmaster.pid" in filenames:
                r = subprocess.run(as_postgres(["psql", "-h", dirpath, "-p", "5432", "-U", "pacsnode", "-d", "pacsnode",
                                                "-tAc", query]),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
                if r.returncode != 0:
                    raise Unavailable(f"psql: {r.stderr.strip()}")
                return r.stdout.strip()
        raise Unavailable("no embedded PostgreSQL running")

    def routing_backlog(self):
        """Arrivals routing has not finished with: instance events not yet consumed, series and
        studies with a version some rule has not looked at (0 once the sweeper caught up)."""
        return int(self._psql("SELECT (SELECT count(*) FROM routing_instance_event)"
                              " + (SELECT count(*) FROM routing_resource WHERE version > evaluated_version)"))

    def routing_jobs(self):
        return int(self._psql("SELECT count(*) FROM job"))

    def argv(self):
        return [self.binary, "serve", "--config", self.config_path]

    def _postmaster_pids(self):
        """The embedded PostgreSQL runs daemonised (pg_ctl), outside pacsnode's process tree;
        its CPU time is part of pacsnode's cost."""
        pids = []
        for dirpath, dirnames, filenames in os.walk(self.data_dir):
            if "postmaster.pid" in filenames:
                try:
                    with open(os.path.join(dirpath, "postmaster.pid")) as f:
                        pids.append(int(f.readline()))
                except (OSError, ValueError):
                    pass
                dirnames[:] = []
        return pids

    def cpu_roots(self):
        return [self.proc.pid] + self._postmaster_pids()

    def stored(self):
        return count_dicom_files(self.data_dir)

    def stop(self):
        postmasters = self._postmaster_pids() if self.proc is not None else []
        super().stop()
        # If pacsnode died without stopping its cluster, do it for it.
        for pid in postmasters:
            if procstat.pid_alive(pid):
                for dirpath, _, filenames in os.walk(self.data_dir):
                    if "postmaster.pid" in filenames:
                        subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", dirpath, "-m", "immediate", "stop"]),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
