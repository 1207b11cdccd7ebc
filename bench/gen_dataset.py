#!/usr/bin/python3
"""Generates the synthetic DICOM instances the ingest benchmark sends.

Three kinds, each written as <out>/<kind>-<n>.dcm, Explicit VR Little Endian, unique UIDs:
  small  CT Image Storage, 128x128 16-bit, a vendor-like header with private tags: ~38 KB
  large  Digital X-Ray (for presentation), 1448x1448 16-bit: ~4.2 MB
  huge   Multi-frame Grayscale Word Secondary Capture, 512x512 16-bit frames: --huge-mb MiB

Instances are spread over --studies studies, one patient per study, two series per study
for small/large. The pixel data is a simple phantom, not random noise (its content does not
matter to an uncompressed C-STORE, but it keeps the files viewable). Prints one JSON line:
{"kind", "count", "bytes", "dir"}.

Uses only the pydicom 2.3 API shipped by Debian (no numpy).
"""

import argparse
import array
import datetime
import json
import math
import os
import random
import sys

from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
MF_WORD_SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7.3"
IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.1"  # pydicom's root: this is pydicom output

FIRST_NAMES = ["ANNA", "BRUNO", "CLARA", "DAVID", "EVA", "FELIX", "GRETA", "HUGO", "IRIS", "JONAS"]
LAST_NAMES = ["MUELLER", "DUBOIS", "ROSSI", "NOVAK", "JANSEN", "SILVA", "BERG", "KOWALSKI", "LUND", "MORAN"]


def phantom(rows, cols, variant, bits_stored):
    """A round 'body' with two inner 'organs'; variant shifts them so slices differ."""
    top = (1 << bits_stored) - 1
    air, body, organ, bone = 24, 1024 + 40, 1024 + 80 + variant % 50, min(top, 1024 + 900)
    cy, cx = rows / 2.0, cols / 2.0
    r_body = 0.45 * min(rows, cols)
    oy, ox = cy - 0.1 * rows, cx + (0.05 + 0.01 * (variant % 7)) * cols
    r_organ = 0.12 * min(rows, cols)
    by, bx = cy + 0.25 * rows, cx
    r_bone = 0.05 * min(rows, cols) * (1 + 0.1 * (variant % 3))
    pixels = array.array("H")
    for y in range(rows):
        dy, doy, dby = (y - cy) ** 2, (y - oy) ** 2, (y - by) ** 2
        row = [air] * cols
        half = r_body * r_body - dy
        if half > 0:
            w = math.sqrt(half)
            for x in range(max(0, int(cx - w)), min(cols, int(cx + w) + 1)):
                if doy + (x - ox) ** 2 < r_organ * r_organ:
                    row[x] = organ
                elif dby + (x - bx) ** 2 < r_bone * r_bone:
                    row[x] = bone
                else:
                    row[x] = body + ((x * 7 + y * 13 + variant) & 15)
        pixels.extend(row)
    if sys.byteorder != "little":
        pixels.byteswap()
    return pixels.tobytes()


def new_file(path, sop_class, sop_instance):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = "PACSNODE_BENCH"
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    return ds


class Study:
    """Patient, study and series attributes shared by the instances of one study."""

    def __init__(self, index, rng, modality, series_count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        self.patient_name = f"{last}^{first}^^^"
        self.patient_id = f"BENCH{index:06d}"
        birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 60))
        self.birth_date = birth.strftime("%Y%m%d")
        self.sex = rng.choice("MF")
        when = datetime.datetime(2023, 1, 2, 7, 0) + datetime.timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        self.date, self.time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
        self.accession = f"ACC{index:08d}"
        self.study_uid = generate_uid()
        self.frame_of_reference_uid = generate_uid()
        self.series_uids = [generate_uid() for _ in range(series_count)]
        self.modality = modality

    def fill(self, ds, series, instance_number):
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = self.date
        ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = self.time
        ds.AccessionNumber = self.accession
        ds.Modality = self.modality
        ds.Manufacturer = "PACSNODE BENCH"
        ds.InstitutionName = "Synthetic General Hospital"
        ds.InstitutionAddress = "1 Benchmark Road, Loopback City"
        ds.ReferringPhysicianName = "WELBY^MARCUS"
        ds.StationName = "BENCH01"
        ds.StudyDescription = "CT THORAX ABDOMEN" if self.modality == "CT" else "XR CHEST 2 VIEWS"
        ds.SeriesDescription = f"{'AXIAL 5MM' if self.modality == 'CT' else 'VIEW'} {series + 1}"
        ds.PerformingPhysicianName = "HOUSE^GREGORY"
        ds.OperatorsName = "TECH^TINA"
        ds.ManufacturerModelName = "SyntheticScanner 3000"
        ds.PatientName = self.patient_name
        ds.PatientID = self.patient_id
        ds.IssuerOfPatientID = "BENCH"
        ds.PatientBirthDate = self.birth_date
        ds.PatientSex = self.sex
        ds.PatientAge = "050Y"
        ds.PatientWeight = "72"
        ds.BodyPartExamined = "CHEST"
        ds.DeviceSerialNumber = "SN-0001"
        ds.SoftwareVersions = "bench-1.0"
        ds.ProtocolName = "Routine"
        ds.StudyInstanceUID = self.study_uid
        ds.SeriesInstanceUID = self.series_uids[series]
        ds.StudyID = self.accession[-6:]
        ds.SeriesNumber = series + 1
        ds.InstanceNumber = instance_number
        ds.PatientOrientation = ""
        code = Dataset()
        code.CodeValue = "RPID16" if self.modality == "CT" else "RPID2"
        code.CodingSchemeDesignator = "RADLEX"
        code.CodeMeaning = ds.StudyDescription
        ds.ProcedureCodeSequence = Sequence([code])
        ds.RequestAttributesSequence = Sequence([self._request()])

    def _request(self):
        item = Dataset()
        item.RequestedProcedureID = self.accession
        item.ScheduledProcedureStepID = self.accession + "1"
        item.ScheduledProcedureStepDescription = "Routine"
        return item


def image_pixel(ds, rows, cols, frames=None):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0


def add_private_block(ds, rng):
    """Vendor headers carry several KB of private data (think Siemens CSA, GE protocol blocks)."""
    ds.add_new(0x00290010, "LO", "PACSNODE BENCH PRIVATE")
    ds.add_new(0x00291008, "CS", "IMAGE NUM 4")
    ds.add_new(0x00291009, "LO", "bench-1.0")
    blob = bytes(rng.getrandbits(8) for _ in range(256)) * 16  # 4 KiB, like a CSA header
    ds.add_new(0x00291010, "OB", blob)


def write_small(out, index, study, series, number, rng, pixels):
    uid = generate_uid()
    path = os.path.join(out, f"small-{index:06d}.dcm")
    ds = new_file(path, CT_IMAGE_STORAGE, uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    study.fill(ds, series, number)
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    z = -50.0 - 5.0 * number
    ds.ImagePositionPatient = [-175.0, -175.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = z
    ds.SliceThickness = "5"
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = "350"
    ds.GantryDetectorTilt = "0"
    ds.TableHeight = "150"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = "250"
    ds.Exposure = "125"
    ds.FilterType = "BODY FILTER"
    ds.ConvolutionKernel = "B30f"
    ds.PatientPosition = "HFS"
    image_pixel(ds, 128, 128)
    ds.PixelSpacing = [2.734375, 2.734375]
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    add_private_block(ds, rng)
    ds.PixelData = pixels
    ds["PixelData"].VR = "OW"
    ds.save_as(path, write_like_original=False)
    return os.path.getsize(path)


def write_large(out, index, study, series, number, pixels):
    uid = generate_uid()
    path = os.path.join(out, f"large-{index:06d}.dcm")
    ds = new_file(path, DX_PRESENTATION_STORAGE, uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    study.fill(ds, series, number)
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ViewPosition = "PA" if series == 0 else "LL"
    ds.PatientOrientation = ["P", "F"] if series == 0 else ["A", "F"]
    ds.ImageLaterality = "U"
    ds.AnatomicRegionSequence = Sequence([])
    ds.DetectorType = "DIRECT"
    ds.PositionerType = ""
    ds.AcquisitionContextSequence = Sequence([])
    ds.KVP = "125"
    ds.ExposureTime = "8"
    ds.XRayTubeCurrent = "320"
    ds.ImagerPixelSpacing = [0.3, 0.3]
    ds.PixelSpacing = [0.3, 0.3]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    image_pixel(ds, 1448, 1448)
    ds.PixelIntensityRelationship = "LIN"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    ds.PresentationLUTShape = "IDENTITY"
    ds.PixelData = pixels
    ds["PixelData"].VR = "OW"
    ds.save_as(path, write_like_original=False)
    return os.path.getsize(path)


def write_huge(out, index, study, frame, frames):
    uid = generate_uid()
    path = os.path.join(out, f"huge-{index:06d}.dcm")
    ds = new_file(path, MF_WORD_SC_STORAGE, uid)
    ds.ImageType = ["DERIVED", "SECONDARY"]
    study.fill(ds, 0, index + 1)
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "NO"
    ds.PresentationLUTShape = "IDENTITY"
    image_pixel(ds, 512, 512, frames)
    ds.FrameIncrementPointer = 0x00181063  # FrameTime
    ds.FrameTime = "33.3"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.PixelData = frame * frames
    ds["PixelData"].VR = "OW"
    ds.save_as(path, write_like_original=False)
    return os.path.getsize(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["small", "large", "huge"])
    parser.add_argument("out", help="output directory (created)")
    parser.add_argument("--count", type=int, required=True, help="number of instances")
    parser.add_argument("--studies", type=int, default=1, help="studies (= patients) to spread them over")
    parser.add_argument("--huge-mb", type=int, default=500, help="size of a huge instance in MiB")
    parser.add_argument("--seed", type=int, default=1, help="seed for names and dates (UIDs are always fresh)")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    studies = max(1, min(args.studies, args.count))
    total = 0
    if args.kind == "small":
        per_study = math.ceil(args.count / studies)
        slices = [phantom(128, 128, v, 12) for v in range(per_study)]
        for s in range(studies):
            study = Study(s, rng, "CT", 2)
            for k in range(per_study):
                index = s * per_study + k
                if index >= args.count:
                    break
                series = 0 if k < per_study / 2 else 1
                total += write_small(args.out, index, study, series, k + 1, rng, slices[k])
    elif args.kind == "large":
        per_study = math.ceil(args.count / studies)
        images = [phantom(1448, 1448, v, 12) for v in range(min(per_study, 4))]
        for s in range(studies):
            study = Study(s, rng, "DX", 2)
            for k in range(per_study):
                index = s * per_study + k
                if index >= args.count:
                    break
                total += write_large(args.out, index, study, k % 2, k + 1, images[k % len(images)])
    else:
        frame_bytes = 512 * 512 * 2
        frames = max(1, (args.huge_mb * 1024 * 1024) // frame_bytes)
        frame = phantom(512, 512, 0, 12)
        for i in range(args.count):
            study = Study(i, rng, "OT", 1)
            total += write_huge(args.out, i, study, frame, frames)
    print(json.dumps({"kind": args.kind, "count": args.count, "bytes": total, "dir": os.path.abspath(args.out)}))


if __name__ == "__main__":
    main()
