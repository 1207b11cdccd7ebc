#!/usr/bin/python3
"""Decodes the RLE Lossless pixel data of a DICOM file as PS3.5 Annex G describes it and
writes the pixels as a native data set holds them: frame after frame, colour-by-pixel
(PlanarConfiguration 0), little endian, BitsAllocated/8 bytes a sample, padded to an even
length.

The reference for our RLE decoding (DCMTK's dcmrle): written from the standard alone, it
shares no code with DCMTK. GDCM is no help here: its RLE codec orders the segments of
16- and 32-bit colour images wrongly and refuses their multi-frame versions.

Usage: rle_decode.py IN.dcm OUT.raw
"""
import struct
import sys

import pydicom
from pydicom.encaps import generate_pixel_data_frame


def packbits(segment, length):
    """G.3.1: a byte n, then n+1 literal bytes (0 <= n <= 127) or the next byte repeated
    1-n times (-127 <= n <= -1); -128 is a no-op."""
    out = bytearray()
    at = 0
    while at < len(segment) and len(out) < length:
        n = segment[at] - 256 if segment[at] > 127 else segment[at]
        at += 1
        if n >= 0:
            out += segment[at:at + n + 1]
            at += n + 1
        elif n != -128:
            out += segment[at:at + 1] * (1 - n)
            at += 1
    if len(out) < length:
        raise SystemExit(f"segment decodes to {len(out)} bytes, {length} needed")
    return out[:length]


def main():
    source, target = sys.argv[1], sys.argv[2]
    ds = pydicom.dcmread(source)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    pixels = ds.Rows * ds.Columns
    samples = ds.SamplesPerPixel
    size = ds.BitsAllocated // 8
    out = bytearray()
    for frame in generate_pixel_data_frame(ds.PixelData, frames):
        # G.5: the header is 16 unsigned 32-bit little-endian numbers: how many segments,
        # then each segment's offset from the start of the frame.
        header = struct.unpack("<16I", frame[:64])
        count = header[0]
        if count != samples * size:
            raise SystemExit(f"{count} segments, {samples * size} expected")
        offsets = list(header[1:count + 1]) + [len(frame)]
        # G.2: one segment per byte of each sample, most significant byte first, sample
        # after sample (all Red MSBs, all Red LSBs, ..., all Blue LSBs).
        segments = [packbits(frame[offsets[i]:offsets[i + 1]], pixels) for i in range(count)]
        for p in range(pixels):
            for c in range(samples):
                for byte in range(size):  # little endian: the least significant byte first
                    out.append(segments[c * size + (size - 1 - byte)][p])
    if len(out) % 2:
        out += b"\x00"  # a value has an even length (PS3.5 7.1.1)
    with open(target, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
