#!/usr/bin/python3
"""Decodes the JPEG 2000 pixel data of a DICOM file with Grok (grk_decompress, Debian
package grokj2k-tools) and writes the pixels as a native data set holds them: frame after
frame, colour-by-pixel (PlanarConfiguration 0), little endian, BitsAllocated/8 bytes a
sample, padded to an even length.

The reference for our JPEG 2000 decoder (dicom/jpeg2000.cpp, OpenJPEG): pydicom, not DCMTK
or our code, splits the Pixel Data into frames, and Grok decodes them. Grok began in 2016 as
a fork of OpenJPEG and has been largely rewritten since; it is a library of its own
(libgrokj2k) that neither pacsnode nor GDCM's gdcmconv links (both link libopenjp2).

Usage: grok_decode.py IN.dcm OUT.raw
"""
import os
import struct
import subprocess
import sys
import tempfile

import pydicom
from pydicom.encaps import generate_pixel_data_frame


def codestream(frame):
    """The J2K codestream of a frame (some writers embed a JP2 file), each SOT marker's TNsot
    (number of tile-parts of its tile) set to the number that follow: GDCM-written files
    state one too few, which Grok refuses (and OpenJPEG ignores). No pixel depends on it."""
    if frame[4:8] == b"jP  ":
        at = frame.find(b"jp2c")
        if at < 0:
            raise SystemExit("JP2 file without a codestream box")
        frame = frame[at + 4:]
    data = bytearray(frame)
    if data[:2] != b"\xff\x4f":
        raise SystemExit("no SOC marker")
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] != 0x90:
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    sots = []  # (offset, tile)
    while at + 12 <= len(data) and data[at:at + 2] == b"\xff\x90":
        tile, psot = struct.unpack(">HI", data[at + 4:at + 10])
        sots.append((at, tile))
        if psot == 0:
            break
        at += psot
    parts = {}
    for _, tile in sots:
        parts[tile] = parts.get(tile, 0) + 1
    for offset, tile in sots:
        data[offset + 11] = parts[tile]
    return bytes(data)


def main():
    source, target = sys.argv[1], sys.argv[2]
    ds = pydicom.dcmread(source)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    rows, columns, samples = ds.Rows, ds.Columns, ds.SamplesPerPixel
    size = ds.BitsAllocated // 8
    out = bytearray()
    with tempfile.TemporaryDirectory() as work:
        for n, frame in enumerate(generate_pixel_data_frame(ds.PixelData, frames)):
            j2k = os.path.join(work, f"{n}.j2k")
            raw = os.path.join(work, f"{n}.rawl")
            with open(j2k, "wb") as f:
                f.write(codestream(frame))
            done = subprocess.run(["grk_decompress", "-i", j2k, "-o", raw], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"grk_decompress failed on frame {n}: {done.stdout}{done.stderr}")
            with open(raw, "rb") as f:
                planes = f.read()
            # RAWL: component after component, little endian, 1 byte a sample up to 8 bits
            # of precision, else 2.
            plane = len(planes) // samples
            decoded_size = plane // (rows * columns)
            if decoded_size * rows * columns * samples != len(planes) or decoded_size > size:
                raise SystemExit(f"frame {n}: {len(planes)} bytes for {rows}x{columns}x{samples}")
            for i in range(rows * columns):
                for c in range(samples):
                    at = c * plane + i * decoded_size
                    sample = planes[at:at + decoded_size]
                    # A sample of fewer bytes than BitsAllocated: sign- or zero-extended.
                    negative = ds.PixelRepresentation == 1 and sample[-1] & 0x80
                    fill = b"\xff" if decoded_size < size and negative else b"\x00"
                    out += sample + fill * (size - decoded_size)
    if len(out) % 2:
        out += b"\x00"  # a value has an even length (PS3.5 7.1.1)
    with open(target, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
