#!/usr/bin/python3
"""Writes synthetic CT instances for the integration tests (never committed).

usage: gen_instances.py OUT_DIR COUNT [--studies N] [--pixels SIDE] [--same-patient]

Instances are spread over N studies (one patient each, one series per study), with
unique UIDs under a random root, Explicit VR Little Endian, SIDE x SIDE 16-bit pixels.
With --same-patient every study belongs to PAT0000 and study k (0-based) is dated
2024-01-(10+k) at 10:k:00 (otherwise all are 2024-01-15 10:15:00).
"""
import argparse
import os
import random

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("count", type=int)
    parser.add_argument("--studies", type=int, default=10)
    parser.add_argument("--pixels", type=int, default=64)
    parser.add_argument("--same-patient", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    root = "2.25.%d." % random.getrandbits(64)
    studies = [(generate_uid(root), generate_uid(root), "PAT%04d" % (0 if args.same_patient else i)) for i in range(args.studies)]
    pixels = bytes(random.getrandbits(8) for _ in range(64)) * (args.pixels * args.pixels * 2 // 64)
    for n in range(args.count):
        study_uid, series_uid, patient_id = studies[n % args.studies]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid(root)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.is_little_endian = True
        ds.is_implicit_VR = False
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientID = patient_id
        ds.PatientName = "TEST^PATIENT%s" % patient_id[3:]
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        k = n % args.studies
        ds.StudyDate = "202401%02d" % (10 + k) if args.same_patient else "20240115"
        ds.StudyTime = "10%02d00" % k if args.same_patient else "101500"
        ds.AccessionNumber = "ACC%04d" % (n % args.studies)
        ds.StudyID = "1"
        ds.StudyDescription = "Synthetic CT"
        ds.Modality = "CT"
        ds.SeriesNumber = 1
        ds.InstanceNumber = n // args.studies + 1
        ds.Rows = args.pixels
        ds.Columns = args.pixels
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = pixels
        ds.save_as(os.path.join(args.out_dir, "%06d.dcm" % n), write_like_original=False)


if __name__ == "__main__":
    main()
