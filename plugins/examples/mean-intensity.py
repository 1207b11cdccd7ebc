#!/usr/bin/env python3
"""pacsnode example plug-in (contract 1): the mean pixel value of the input, rescaled
(Rescale Slope/Intercept: Hounsfield units for CT). Uncompressed grayscale only."""
import array, json, os, sys

try:
    import pydicom
except ImportError:
    print("pydicom is not installed", file=sys.stderr)
    sys.exit(75)  # temporary failure: retried later

CODES = {16: "h", 32: "i"}  # array type per BitsAllocated (signed); unsigned is the upper case
task = json.load(open(os.environ["PACSNODE_TASK"]))
total, count, used = 0.0, 0, []
for f in task["files"]:
    ds = pydicom.dcmread(f["path"])
    if ds.file_meta.TransferSyntaxUID.is_compressed or ds.get("SamplesPerPixel", 1) != 1 \
            or ds.BitsAllocated not in (16, 32) or "PixelData" not in ds:
        print(f"skipped {f['SOPInstanceUID']}: not uncompressed grayscale", file=sys.stderr)
        continue
    code = CODES[ds.BitsAllocated]
    pixels = array.array(code if ds.PixelRepresentation else code.upper())
    pixels.frombytes(ds.PixelData[: len(ds.PixelData) // pixels.itemsize * pixels.itemsize])
    if ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2":
        pixels.byteswap()  # big endian
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    total += slope * sum(pixels) + intercept * len(pixels)
    count += len(pixels)
    used.append(f["SOPInstanceUID"])
if count == 0:
    print("no uncompressed grayscale image in the input", file=sys.stderr)
    sys.exit(3)  # not applicable
ct = task.get("series", {}).get("Modality") == "CT"
unit = ("[hnsf'U]", "Hounsfield unit") if ct else ("1", "no units")
code = lambda value, scheme, meaning: {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}
result = {
    "contract": 1,
    "algorithm": {"name": "mean-intensity", "version": "1.0.0"},
    "summary": f"mean {total / count:.1f} over {count} pixels of {len(used)} image(s)",
    "Measurements": [{
        "TrackingIdentifier": "whole image",
        "Finding": code("113343008", "SCT", "Body organ structure"),
        "imageReferences": used,
        "measurementItems": [{
            "quantity": code("112031", "DCM", "Attenuation Coefficient") if ct
            else code("110852", "DCM", "MR signal intensity"),
            "value": round(total / count, 3),
            "units": code(unit[0], "UCUM", unit[1]),
            "derivationModifier": code("373098007", "SCT", "Mean")}]}],
}
with open(os.path.join(os.environ["PACSNODE_OUT_DIR"], "result.json"), "w") as out:
    json.dump(result, out, indent=2)
print(result["summary"])
