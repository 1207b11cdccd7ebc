#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (small, committed; rerun to regenerate)."""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


def item(kind, body):
    return struct.pack(">BBH", kind, 0, len(body)) + body


def pdu(kind, body):
    return struct.pack(">BBI", kind, 0, len(body)) + body


def ae(title):
    return title.encode().ljust(16, b" ")


def associate(kind, contexts, user_items):
    fixed = struct.pack(">HH", 1, 0) + ae("ANY-SCP") + ae("ECHOSCU") + bytes(32)
    user = item(0x50, item(0x51, struct.pack(">I", 16384))
                + item(0x52, b"1.2.276.0.7230010.3.0.3.6.7") + b"".join(user_items)
                + item(0x55, b"OFFIS_DCMTK_367"))
    return pdu(kind, fixed + item(0x10, b"1.2.840.10008.3.1.1.1") + b"".join(contexts) + user)


rq = associate(0x01, [
    item(0x20, bytes([1, 0, 0, 0]) + item(0x30, b"1.2.840.10008.1.1") + item(0x40, b"1.2.840.10008.1.2")),
    item(0x20, bytes([3, 0, 0, 0]) + item(0x30, b"1.2.840.10008.5.1.4.1.1.2\0")
         + item(0x40, b"1.2.840.10008.1.2.1") + item(0x40, b"1.2.840.10008.1.2")),
], [
    item(0x53, struct.pack(">HH", 0, 0)),
    item(0x54, struct.pack(">H", 25) + b"1.2.840.10008.5.1.4.1.1.2" + b"\x01\x01"),
    item(0x56, struct.pack(">H", 27) + b"1.2.840.10008.5.1.4.1.2.2.1" + b"\x01"),
    item(0x57, struct.pack(">H", 5) + b"1.2.3" + struct.pack(">H", 5) + b"1.2.4"
         + struct.pack(">H", 7) + struct.pack(">H", 5) + b"1.2.5"),
    item(0x58, b"\x02\x01" + struct.pack(">H", 5) + b"alice" + struct.pack(">H", 6) + b"s3cret"),
])
ac = associate(0x02, [
    item(0x21, bytes([1, 0, 0, 0]) + item(0x40, b"1.2.840.10008.1.2")),
    item(0x21, bytes([3, 0, 4, 0])),  # rejected, no transfer syntax sub-item
], [
    item(0x54, struct.pack(">H", 25) + b"1.2.840.10008.5.1.4.1.1.2" + b"\x01\x00"),
    item(0x59, struct.pack(">H", 0)),
])
echo_command = (
    struct.pack("<HHII", 0, 0, 4, 56)
    + struct.pack("<HHI", 0, 0x0002, 18) + b"1.2.840.10008.1.1\0"
    + struct.pack("<HHIH", 0, 0x0100, 2, 0x0030)
    + struct.pack("<HHIH", 0, 0x0110, 2, 1)
    + struct.pack("<HHIH", 0, 0x0800, 2, 0x0101))
pdv = lambda pc, control, data: struct.pack(">IBB", len(data) + 2, pc, control) + data
seeds = {
    "pdu/associate_rq": rq,
    "pdu/associate_ac": ac,
    "pdu/associate_rj": pdu(0x03, bytes([0, 1, 1, 7])),
    "pdu/p_data_two_pdvs": pdu(0x04, pdv(1, 0x03, echo_command) + pdv(1, 0x00, b"\x08\x00\x16\x00")),
    "pdu/release_rq": pdu(0x05, bytes(4)),
    "pdu/release_rp": pdu(0x06, bytes(4)),
    "pdu/abort": pdu(0x07, bytes([0, 0, 2, 6])),
    "command_set/c_echo_rq": echo_command,
    "command_set/c_move_rsp": (
        struct.pack("<HHII", 0, 0, 4, 0)
        + struct.pack("<HHI", 0, 0x0002, 28) + b"1.2.840.10008.5.1.4.1.2.2.2\0"
        + struct.pack("<HHIH", 0, 0x0100, 2, 0x8021)
        + struct.pack("<HHIH", 0, 0x0120, 2, 9)
        + struct.pack("<HHI", 0, 0x0600, 8) + b"STORESCP"
        + struct.pack("<HHIH", 0, 0x0800, 2, 0x0101)
        + struct.pack("<HHIH", 0, 0x0900, 2, 0xFF00)
        + struct.pack("<HHIH", 0, 0x1020, 2, 3)),
}
for name, data in seeds.items():
    path = HERE / "corpus" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
