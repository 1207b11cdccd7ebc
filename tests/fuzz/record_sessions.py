#!/usr/bin/env python3
"""Records real DCMTK sessions as seeds for dimse_fuzz (tests/fuzz/corpus/dimse/).

Each DCMTK requestor (echoscu, storescu, findscu, movescu, getscu) talks to DCMTK's storescp
or dcmqrscp through a small recording proxy on 127.0.0.1. A seed is what the requestor sent
after its A-ASSOCIATE-RQ (P-DATA-TF PDUs, then the A-RELEASE-RQ or A-ABORT), with every PDV's
presentation context id renumbered onto dimse_fuzz's fixed table (kContexts in
dimse_fuzz.cpp, mirrored in CONTEXTS below) from what the A-ASSOCIATE-RQ proposed and the
A-ASSOCIATE-AC accepted. Nothing else is changed: the bytes are DCMTK's.

Run from anywhere: python3 tests/fuzz/record_sessions.py [OUTPUT_DIR]
(default tests/fuzz/corpus/dimse). Needs the DCMTK tools and the test files of the Debian
package python3-pydicom; stays on 127.0.0.1; takes a few seconds.
"""
import os
import pathlib
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
PYDICOM = pathlib.Path("/usr/lib/python3/dist-packages/pydicom/data")
TEST_FILES = PYDICOM / "test_files"
CHARSET_FILES = PYDICOM / "charset_files"

VERIFICATION = "1.2.840.10008.1.1"
ILE, ELE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"
QR_MODELS = [
    "1.2.840.10008.5.1.4.1.2.1.1", "1.2.840.10008.5.1.4.1.2.2.1",  # Patient / Study Root FIND
    "1.2.840.10008.5.1.4.1.2.1.2", "1.2.840.10008.5.1.4.1.2.2.2",  # MOVE
    "1.2.840.10008.5.1.4.1.2.1.3", "1.2.840.10008.5.1.4.1.2.2.3",  # GET
]
# dimse_fuzz's kContexts: (abstract syntax, transfer syntax) -> id; storage by transfer syntax.
CONTEXTS = {(VERIFICATION, None): 1}
for i, model in enumerate(QR_MODELS):
    CONTEXTS[(model, ELE)] = 3 + 4 * i
    CONTEXTS[(model, ILE)] = 5 + 4 * i
STORAGE_SYNTAXES = [
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
]
STORAGE = {ts: 101 + 2 * i for i, ts in enumerate(STORAGE_SYNTAXES)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def split_pdus(stream):
    pdus, offset = [], 0
    while offset + 6 <= len(stream):
        kind, length = stream[offset], struct.unpack(">I", stream[offset + 2:offset + 6])[0]
        if offset + 6 + length > len(stream):
            break
        pdus.append(stream[offset:offset + 6 + length])
        offset += 6 + length
    return pdus


def items(body):
    offset = 0
    while offset + 4 <= len(body):
        kind, length = body[offset], struct.unpack(">H", body[offset + 2:offset + 4])[0]
        yield kind, body[offset + 4:offset + 4 + length]
        offset += 4 + length


def uid(data):
    return data.rstrip(b"\0 ").decode()


def negotiated(rq, ac):
    """{pc id: (abstract syntax, accepted transfer syntax)} for the accepted contexts."""
    proposed = {}
    for kind, body in items(rq[6 + 68:]):
        if kind == 0x20:
            proposed[body[0]] = next(uid(v) for k, v in items(body[4:]) if k == 0x30)
    accepted = {}
    for kind, body in items(ac[6 + 68:]):
        if kind == 0x21 and body[2] == 0:
            ts = next(uid(v) for k, v in items(body[4:]) if k == 0x40)
            accepted[body[0]] = (proposed.get(body[0], ""), ts)
    return accepted


def renumber(pdu, mapping):
    if pdu[0] != 0x04:
        return pdu
    out, offset = bytearray(pdu[:6]), 6
    while offset + 6 <= len(pdu):
        length = struct.unpack(">I", pdu[offset:offset + 4])[0]
        pdv = bytearray(pdu[offset:offset + 4 + length])
        pdv[4] = mapping.get(pdv[4], pdv[4])
        out += pdv
        offset += 4 + length
    return bytes(out)


def table_id(abstract_syntax, ts):
    if abstract_syntax == VERIFICATION:
        return CONTEXTS[(VERIFICATION, None)]
    if abstract_syntax in QR_MODELS:
        return CONTEXTS.get((abstract_syntax, ts))
    return STORAGE.get(ts)


class Proxy:
    """Accepts one connection on 127.0.0.1 and relays it to `upstream`, keeping both streams."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.sent, self.received = bytearray(), bytearray()  # requestor → acceptor, and back
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.listener.settimeout(30)
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream))
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peers = {client: (server, self.sent), server: (client, self.received)}
        open_ends = set(peers)
        while open_ends:
            ready, _, _ = select.select(list(open_ends), [], [], 30)
            if not ready:
                break
            for s in ready:
                other, log = peers[s]
                data = s.recv(65536)
                if not data:
                    open_ends.discard(s)
                    try:
                        other.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                log += data
                other.sendall(data)
        client.close()
        server.close()
        self.listener.close()

    def seed(self):
        self.thread.join(60)
        sent, received = split_pdus(bytes(self.sent)), split_pdus(bytes(self.received))
        if not sent or sent[0][0] != 0x01 or not received or received[0][0] != 0x02:
            raise RuntimeError("no association was established")
        mapping = {}
        for pc, (abstract_syntax, ts) in negotiated(sent[0], received[0]).items():
            new = table_id(abstract_syntax, ts)
            if new is not None:
                mapping[pc] = new
        return b"".join(renumber(p, mapping) for p in sent[1:])


def record(name, upstream, argv, out_dir, env):
    proxy = Proxy(upstream)
    full = [a.replace("{port}", str(proxy.port)) for a in argv]
    result = subprocess.run(full, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    seed = proxy.seed()
    if result.returncode != 0:
        print(f"  ({argv[0]} exited {result.returncode}; kept what it sent)")
        print("    " + result.stdout.decode(errors="replace").strip().replace("\n", "\n    "))
    (out_dir / name).write_bytes(seed)
    print(f"{name}: {len(seed)} bytes")


def main():
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus" / "dimse"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TCP_NODELAY="1")
    work = pathlib.Path(tempfile.mkdtemp(prefix="record_sessions."))
    children = []
    try:
        # storescp: accepts every storage SOP class in every transfer syntax it knows; a small
        # PDU so that data sets arrive in several fragments.
        store_port = free_port()
        (work / "store").mkdir()
        children.append(subprocess.Popen(
            ["storescp", "--aetitle", "PACSNODE", "+xa", "--max-pdu", "4096", "--output-directory",
             str(work / "store"), "--ignore", str(store_port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # dcmqrscp: C-FIND, C-MOVE, C-GET over what storescu sends it first.
        qr_port, move_port = free_port(), free_port()
        (work / "qr").mkdir()
        (work / "dcmqrscp.cfg").write_text(f"""NetworkTCPPort = {qr_port}
MaxPDUSize = 16384
MaxAssociations = 16
HostTable BEGIN
movescu = (MOVESCU, 127.0.0.1, {move_port})
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
PACSNODE {work / "qr"} RW (20, 64mb) ANY
AETable END
""")
        children.append(subprocess.Popen(
            ["dcmqrscp", "--config", str(work / "dcmqrscp.cfg")], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(store_port)
        wait_for_port(qr_port)

        scu = ["-aet", "FUZZSCU", "-aec", "PACSNODE", "127.0.0.1", "{port}"]
        record("echo", store_port, ["echoscu"] + scu, out_dir, env)
        record("echo_abort", store_port, ["echoscu", "--abort"] + scu, out_dir, env)

        # name: (storescu's transfer syntax option, files); a compressed file goes in its own
        # syntax, as it is stored.
        stores = {
            "store_explicit_rgb": ("-x=", [TEST_FILES / "SC_rgb_small_odd.dcm"]),
            "store_rle": ("-xr", [TEST_FILES / "SC_rgb_rle.dcm"]),
            "store_jpeg_baseline": ("-xy", [TEST_FILES / "SC_rgb_small_odd_jpeg.dcm"]),
            "store_jpeg2000": ("-xw", [TEST_FILES / "JPEG2000.dcm"]),
            "store_jpeg_ls": ("-xt", [TEST_FILES / "MR_small_jpeg_ls_lossless.dcm"]),
            "store_deflate": ("-xd", [TEST_FILES / "image_dfl.dcm"]),
            "store_big_endian": ("-xb", [TEST_FILES / "rtdose_expb_1frame.dcm"]),
            "store_implicit_rtplan": ("-xi", [TEST_FILES / "rtplan.dcm"]),
            "store_rtstruct": ("-x=", [TEST_FILES / "rtstruct.dcm"]),
            "store_sr": ("-x=", [TEST_FILES / "reportsi.dcm"]),
            "store_charsets": ("-x=", [CHARSET_FILES / f for f in ("chrH32.dcm", "chrKoreanMulti.dcm", "chrX1.dcm")]),
            "store_charsets_implicit": ("-xi", [CHARSET_FILES / f for f in ("chrRuss.dcm", "chrGreek.dcm", "chrJapMultiExplicitIR6.dcm")]),
        }
        for name, (syntax, files) in stores.items():
            record(name, store_port, ["storescu", syntax] + scu + [str(f) for f in files], out_dir, env)

        # The Q/R archive: the MR and CT series, a report, Japanese names.
        archive = [TEST_FILES / f for f in ("MR_small.dcm", "CT_small.dcm", "reportsi.dcm", "rtplan.dcm")]
        archive += [CHARSET_FILES / "chrH32.dcm", CHARSET_FILES / "chrX1.dcm"]
        subprocess.run(["storescu", "-R", "-aet", "FUZZSCU", "-aec", "PACSNODE", "127.0.0.1", str(qr_port)]
                       + [str(f) for f in archive], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        finds = {
            "find_study_root_study": ["-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=*",
                                      "-k", "PatientID", "-k", "StudyInstanceUID", "-k", "StudyDate=19000101-",
                                      "-k", "StudyTime", "-k", "ModalitiesInStudy", "-k", "AccessionNumber",
                                      "-k", "NumberOfStudyRelatedInstances"],
            "find_patient_root_patient": ["-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName=Yamada*",
                                          "-k", "PatientID", "-k", "PatientBirthDate", "-k", "SpecificCharacterSet=ISO_IR 192"],
            "find_series_explicit": ["-S", "-xe", "-k", "QueryRetrieveLevel=SERIES", "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
                                     "-k", "SeriesInstanceUID", "-k", "Modality=MR\\CT", "-k", "SeriesNumber"],
            "find_image_sequence": ["-S", "-xi", "-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID=1.2.3",
                                    "-k", "SeriesInstanceUID=1.2.3.4", "-k", "SOPInstanceUID",
                                    "-k", "ReferencedSeriesSequence[0].SeriesInstanceUID=1.2*",
                                    "-k", "ContentDate=20010101", "-k", "ContentTime=1200-1300"],
            "find_cancel": ["-S", "--cancel", "1", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID",
                            "-k", "PatientName"],
        }
        for name, args in finds.items():
            record(name, qr_port, ["findscu"] + args + scu, out_dir, env)

        moves = {
            "move_study": ["movescu", "-S", "--port", str(move_port), "-aem", "MOVESCU", "--ignore",
                           "-k", "QueryRetrieveLevel=STUDY",
                           "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"],
            "move_patient": ["movescu", "-P", "--port", str(move_port), "-aem", "MOVESCU", "--ignore",
                             "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=4MR1"],
            "get_series": ["getscu", "-S", "-od", str(work), "-k", "QueryRetrieveLevel=SERIES",
                           "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
                           "-k", "SeriesInstanceUID=1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"],
            "get_image": ["getscu", "-S", "-od", str(work), "-k", "QueryRetrieveLevel=IMAGE",
                          "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
                          "-k", "SeriesInstanceUID=1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322",
                          "-k", "SOPInstanceUID=1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322\\1.2.3"],
        }
        for name, argv in moves.items():
            record(name, qr_port, argv + scu, out_dir, env)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
