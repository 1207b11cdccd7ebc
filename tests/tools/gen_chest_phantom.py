#!/usr/bin/python3
"""Writes synthetic CT series with known truth for the bundled plug-ins' accuracy tests.

usage: gen_chest_phantom.py chest OUT_DIR [options]   (lung-density)
       gen_chest_phantom.py water OUT_DIR [options]   (series-stats)

One file per slice (CT Image Storage, Explicit VR Little Endian; MR Image Storage with
--modality MR), named <SeriesInstanceUID>#<SOPInstanceUID>.dcm as the plug-in contract
names its inputs, written in shuffled order (Instance Number counts from the head down)
so that a reader must sort by Image Position Patient. Axial
slices, Image Orientation (1,0,0,0,1,0) (LPS: +x patient left, +y posterior, +z head).
Voxel membership is decided at voxel centres (no partial volume), so every truth below
is a count over the generated voxels, never an estimate.

chest: a body (soft tissue 40 HU inside a fat ring of -100 HU), a spine (700 HU), two
lungs (ellipsoids of parenchyma, -850 HU; the right one at lower x), a trachea (air,
-1000 HU, radius 2 % of the field width) entering at the top slice, and, unless --no-bronchi, two main bronchi that join
the trachea at the carina to each lung's medial surface (so airway and lungs form one
air component). --emphysema-fraction F (with --emphysema-lung right|left) sets that
fraction of the chosen lung's voxels (random voxels) to -980 HU. --bridge joins the lungs
by a tube of parenchyma (one air component: the plug-in must split it). Gaussian noise of
--sigma HU is added everywhere, then values are quantised to stored integers through
Rescale Slope/Intercept. Truth (per lung and both): voxel-count volume (cm3), mean HU,
percent of voxels < -950 HU, and the 15th percentile (nearest rank: the smallest value v
with at least 15 % of voxels <= v; also at 14.5 % and 15.5 %), all from the stored values
inside the lung masks.

water: a water cylinder (0 HU, radius 0.4 x field width) in air over all slices, noise
--sigma, and an optional linear gradient --gradient G HU per mm along +x (patient left).
Truth: mean and SD of the water voxels of the middle slice, the gradient, the radius.

The truth is printed as JSON on stdout and, with --truth FILE, written to FILE.
"""
import argparse
import json
import math
import os

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["chest", "water"])
    p.add_argument("out_dir")
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--cols", type=int, default=256)
    p.add_argument("--slices", type=int, default=100)
    p.add_argument("--pixel-spacing", type=float, nargs=2, default=[1.5, 1.5], metavar=("ROW", "COL"),
                   help="mm between rows, mm between columns (DICOM Pixel Spacing order)")
    p.add_argument("--slice-spacing", type=float, default=2.5)
    p.add_argument("--sigma", type=float, default=20.0, help="noise SD in HU")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--signed", action="store_true", help="int16 stored values, intercept 0 (default uint16, intercept -1024)")
    p.add_argument("--slope", type=float, default=1.0)
    p.add_argument("--modality", default="CT", help="written as Modality; not CT also makes it MR Image Storage")
    p.add_argument("--patient-id", default="PHANTOM1")
    p.add_argument("--study-uid", default=None)
    p.add_argument("--series-uid", default=None)
    p.add_argument("--study-date", default="20261203", help="StudyDate (YYYYMMDD)")
    p.add_argument("--patient-name", default=None, help="default PHANTOM^<KIND>")
    p.add_argument("--truth", default=None, help="also write the truth JSON here")
    # chest
    p.add_argument("--lung-scale", type=float, default=1.0, help="scales both lungs' semi-axes")
    p.add_argument("--left-scale", type=float, default=0.85, help="left lung semi-axes relative to the right")
    p.add_argument("--emphysema-fraction", type=float, default=0.0)
    p.add_argument("--emphysema-lung", choices=["right", "left"], default="right")
    p.add_argument("--no-bronchi", action="store_true", help="trachea ends blind between the lungs")
    p.add_argument("--bridge", action="store_true",
                   help="a tube of parenchyma joins the lungs in front of the mediastinum (its voxels at x < 0 count as right lung)")
    # water
    p.add_argument("--gradient", type=float, default=0.0, help="water: HU per mm along +x")
    return p.parse_args()


def grid(a):
    """Voxel-centre coordinates (mm) as broadcastable arrays z[k,1,1], y[1,r,1], x[1,1,c]."""
    dy, dx = a.pixel_spacing
    x = (np.arange(a.cols) - (a.cols - 1) / 2.0) * dx
    y = (np.arange(a.rows) - (a.rows - 1) / 2.0) * dy
    z = np.arange(a.slices) * a.slice_spacing
    return z[:, None, None], y[None, :, None], x[None, None, :], x[0], y[0]


def tube(zz, yy, xx, p0, p1, radius):
    """Voxels within `radius` of the segment p0-p1 (points as (x, y, z))."""
    p0 = np.array(p0, dtype=float)
    d = np.array(p1, dtype=float) - p0
    length2 = float(d @ d)
    t = ((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1] + (zz - p0[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    dist2 = (xx - p0[0] - t * d[0]) ** 2 + (yy - p0[1] - t * d[1]) ** 2 + (zz - p0[2] - t * d[2]) ** 2
    return dist2 <= radius * radius


def chest(a, rng):
    zz, yy, xx, _, _ = grid(a)
    shape = (a.slices, a.rows, a.cols)
    width = a.cols * a.pixel_spacing[1]
    height = a.rows * a.pixel_spacing[0]
    depth = a.slices * a.slice_spacing
    hu = np.full(shape, -1000.0)
    # Body: an elliptic cylinder over all slices (it touches the top and bottom slices,
    # never the in-plane border), a fat ring 8 % of the semi-axes thick.
    ba, bb = 0.44 * width, 0.34 * height
    body = (xx / ba) ** 2 + (yy / bb) ** 2 <= 1.0
    inner = (xx / (0.92 * ba)) ** 2 + (yy / (0.92 * bb)) ** 2 <= 1.0
    body3, inner3 = np.broadcast_to(body, shape), np.broadcast_to(inner, shape)
    hu[body3] = -100.0
    hu[inner3] = 40.0
    spine = np.broadcast_to((xx ** 2 + (yy - 0.25 * height) ** 2) <= (0.055 * height) ** 2, shape)
    hu[spine] = 700.0
    # Lungs: ellipsoids centred at x = -/+0.2 W (right/left), y = -0.02 H, z = 0.45 D.
    s = a.lung_scale
    rx, ry, rz = 0.13 * width * s, 0.2 * height * s, 0.36 * depth * s
    zc, yc = 0.45 * depth, -0.02 * height
    lungs = {}
    for name, cx, k in (("right", -0.2 * width, 1.0), ("left", 0.2 * width, a.left_scale)):
        lungs[name] = (((xx - cx) / (rx * k)) ** 2 + ((yy - yc) / (ry * k)) ** 2 + ((zz - zc) / (rz * k)) ** 2) <= 1.0
        lungs[name] = np.broadcast_to(lungs[name], shape).copy()
    if (lungs["right"] & lungs["left"]).any():
        raise SystemExit("lungs overlap: lower --lung-scale")
    if a.bridge:
        yb = yc - 0.6 * ry
        bridge = tube(zz, yy, xx, (-0.2 * width, yb, zc), (0.2 * width, yb, zc), 0.015 * width)
        lungs["right"] |= bridge & (np.broadcast_to(xx, shape) < 0)
        lungs["left"] |= bridge & (np.broadcast_to(xx, shape) >= 0)
    airway = np.zeros(shape, dtype=bool)
    rt = max(3.0 * max(a.pixel_spacing), 0.02 * width)
    xt, yt = 0.0, -0.06 * height
    z_carina = 0.72 * depth
    airway |= tube(zz, yy, xx, (xt, yt, depth + rt), (xt, yt, z_carina), rt)
    if not a.no_bronchi:
        for cx, k in ((-0.2 * width, 1.0), (0.2 * width, a.left_scale)):
            target = (cx - math.copysign(0.3 * rx * k, cx), yc, zc + 0.35 * rz * k)
            airway |= tube(zz, yy, xx, (xt, yt, z_carina), target, 0.7 * rt)
    both = lungs["right"] | lungs["left"]
    if a.no_bronchi and (tube(zz, yy, xx, (xt, yt, depth + rt), (xt, yt, z_carina), rt + 2 * max(a.pixel_spacing)) & both).any():
        raise SystemExit("the blind trachea touches a lung: lower --lung-scale")
    airway &= ~both
    if (airway & ~inner3).any():
        raise SystemExit("airway leaves the body: change the geometry")
    hu[both] = -850.0
    hu[airway] = -1000.0
    if a.emphysema_fraction > 0:
        idx = np.flatnonzero(lungs[a.emphysema_lung])
        chosen = rng.choice(idx, size=int(round(a.emphysema_fraction * idx.size)), replace=False)
        hu.flat[chosen] = -980.0
    stored, real = quantise(a, hu + rng.normal(0.0, a.sigma, shape))
    voxel_cm3 = a.pixel_spacing[0] * a.pixel_spacing[1] * a.slice_spacing / 1000.0
    truth = {"kind": "chest", "voxel_cm3": voxel_cm3, "airway_voxels": int(airway.sum()),
             "bronchi": not a.no_bronchi}
    for name, mask in (("right", lungs["right"]), ("left", lungs["left"]), ("both", both)):
        v = np.sort(real[mask])
        n = v.size
        truth[name] = {
            "voxels": int(n),
            "volume_cm3": n * voxel_cm3,
            "mean_hu": float(v.mean()),
            "laa950_percent": 100.0 * float((v < -950.0).sum()) / n,
            "p15_hu": float(v[math.ceil(0.15 * n) - 1]),
            # The same nearest rank at 14.5 % and 15.5 %: how far PD15 may move when the
            # segmentation is off by half a percent of the voxels.
            "p14_5_hu": float(v[math.ceil(0.145 * n) - 1]),
            "p15_5_hu": float(v[math.ceil(0.155 * n) - 1]),
            "centroid_x_mm": float(np.broadcast_to(xx, shape)[mask].mean()),
            # Per slice k (0 = the lowest z): the lung's pixels in that axial section, for
            # the planar region the plug-in reports on one slice.
            "section_pixels": [int(n) for n in mask.sum(axis=(1, 2))],
        }
    return stored, truth


def water(a, rng):
    zz, yy, xx, _, _ = grid(a)
    shape = (a.slices, a.rows, a.cols)
    width = a.cols * a.pixel_spacing[1]
    radius = 0.4 * width
    inside = np.broadcast_to(xx ** 2 + yy ** 2 <= radius * radius, shape)
    hu = np.where(inside, a.gradient * np.broadcast_to(xx, shape), -1000.0)
    stored, real = quantise(a, hu + rng.normal(0.0, a.sigma, shape))
    mid = real[a.slices // 2][inside[0]]
    truth = {"kind": "water", "radius_mm": radius, "gradient_hu_per_mm": a.gradient, "sigma": a.sigma,
             "middle_slice_water_mean_hu": float(mid.mean()), "middle_slice_water_sd_hu": float(mid.std()),
             "voxels": int(real.size), "mean_hu": float(real.mean()), "min_hu": float(real.min()),
             "max_hu": float(real.max())}
    return stored, truth


def quantise(a, hu):
    """Stored values and the HU they stand for (Rescale Slope/Intercept applied back)."""
    intercept = 0.0 if a.signed else -1024.0
    lo, hi = (-32768, 32767) if a.signed else (0, 65535)
    stored = np.clip(np.rint((hu - intercept) / a.slope), lo, hi).astype(np.int16 if a.signed else np.uint16)
    return stored, stored.astype(np.float64) * a.slope + intercept


def write_series(a, stored, rng):
    os.makedirs(a.out_dir, exist_ok=True)
    root = "2.25.%d." % rng.integers(1, 2 ** 62)
    study_uid = a.study_uid or generate_uid(root)
    series_uid = a.series_uid or generate_uid(root)
    frame_uid = generate_uid(root)
    is_ct = a.modality == "CT"
    sop_class = CT_IMAGE_STORAGE if is_ct else MR_IMAGE_STORAGE
    _, _, _, x0, y0 = grid(a)
    order = rng.permutation(a.slices)
    slice_uids = [None] * a.slices
    for n, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid(root)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.is_little_endian = True
        ds.is_implicit_VR = False
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        slice_uids[k] = ds.SOPInstanceUID
        ds.StudyDate = a.study_date
        ds.StudyTime = "101500"
        ds.AccessionNumber = "PH1"
        ds.Modality = a.modality
        ds.Manufacturer = "pacsnode phantom"
        ds.StudyDescription = "PHANTOM " + a.kind.upper()
        ds.SeriesDescription = a.kind
        ds.PatientName = a.patient_name or "PHANTOM^" + a.kind.upper()
        ds.PatientID = a.patient_id
        ds.PatientBirthDate = "19600101"
        ds.PatientSex = "O"
        ds.BodyPartExamined = "CHEST" if a.kind == "chest" else "PHANTOM"
        ds.SliceThickness = a.slice_spacing
        if is_ct:
            ds.KVP = 120
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = 2
        # Instance numbers count from the head down, as many scanners do.
        ds.InstanceNumber = a.slices - int(k)
        ds.ImagePositionPatient = [float(x0), float(y0), float(k * a.slice_spacing)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = float(k * a.slice_spacing)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = a.rows
        ds.Columns = a.cols
        ds.PixelSpacing = list(a.pixel_spacing)
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if a.signed else 0
        ds.RescaleIntercept = 0 if a.signed else -1024
        ds.RescaleSlope = a.slope
        ds.RescaleType = "HU"
        ds.WindowCenter = -600 if a.kind == "chest" else 0
        ds.WindowWidth = 1500 if a.kind == "chest" else 400
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        name = "%s#%s.dcm" % (series_uid, ds.SOPInstanceUID)  # as the plug-in contract names inputs
        ds.save_as(os.path.join(a.out_dir, name), write_like_original=False)
    return study_uid, series_uid, slice_uids


def main():
    a = parse_args()
    rng = np.random.default_rng(a.seed)
    stored, truth = chest(a, rng) if a.kind == "chest" else water(a, rng)
    truth["study_uid"], truth["series_uid"], truth["slice_sop_uids"] = write_series(a, stored, rng)
    truth["modality"] = a.modality
    text = json.dumps(truth, indent=1)
    if a.truth:
        with open(a.truth, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
