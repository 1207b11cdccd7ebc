#!/usr/bin/python3
"""The Query/Retrieve benchmark's data set: STUDIES studies (two per patient) holding
INSTANCES instances in all, one of them (the "move study") with MOVE_SIZE instances of
256x256 pixels for the C-MOVE measurement, the others small (64x64) with the rest spread
evenly, one series each. Patient names come from the surname list of qr_bulk_load.sql (the
same distribution as the 1,000,000-instance bulk set: SMITH* about 1 % of patients), study
dates spread over ten years. Prints one JSON line describing what a query needs
({"dir", "instances", "patient_id", "study_uid", "series_uid", "move_study_uid"}).

usage: gen_qr_dataset.py OUT_DIR [--studies N] [--instances N] [--move-size N]
"""
import argparse
import datetime
import json
import os

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ROOT = "1.2.826.0.1.3680043.10.1337.6."
# The list in bench/qr_bulk_load.sql, in the same order (patient g gets (g * 7919) % 100).
SURNAMES = """SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ
GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE HARRIS SANCHEZ CLARK
RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT TORRES NGUYEN HILL FLORES GREEN ADAMS NELSON
BAKER HALL RIVERA CAMPBELL MITCHELL CARTER ROBERTS MULLER SCHMIDT SCHNEIDER FISCHER WEBER MEYER WAGNER
BECKER SCHULZ HOFFMANN MARTIN BERNARD DUBOIS THOMAS ROBERT RICHARD PETIT DURAND LEROY MOREAU ROSSI RUSSO
FERRARI ESPOSITO BIANCHI ROMANO COLOMBO RICCI MARINO GRECO SILVA SANTOS OLIVEIRA SOUZA PEREIRA COSTA
CARVALHO ALMEIDA RIBEIRO ALVES ARROWSMITH GOLDSMITH KOWALSKI NOWAK WISNIEWSKI TANAKA SUZUKI SATO KIM
PARK""".split()
FIRST = ["JOHN", "MARY", "ANNA", "PETER", "LUCA", "YUKI", "OMAR", "SARA"]


def write(path, study, series, k_series, sop, number, patient, side):
    g, name, birth = patient
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop
    ds.PatientID = "QP%07d" % g
    ds.PatientName = name
    ds.PatientBirthDate = birth
    ds.PatientSex = "MFO"[g % 3]
    ds.StudyInstanceUID = study["uid"]
    ds.StudyDate = study["date"]
    ds.StudyTime = study["time"]
    ds.AccessionNumber = "QA%d" % study["k"]
    ds.StudyID = str(study["k"] % 1000)
    ds.StudyDescription = "Bench study %d" % (study["k"] % 50)
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = k_series
    ds.Modality = ["CT", "MR", "CR", "US", "PT", "DX"][study["k"] % 6]
    ds.InstanceNumber = number
    ds.Rows = side
    ds.Columns = side
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes((number * 7 + i) % 251 for i in range(64)) * (side * side * 2 // 64)
    ds.save_as(path, write_like_original=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--instances", type=int, default=20000)
    parser.add_argument("--move-size", type=int, default=500)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    start = datetime.date(2015, 1, 1)
    patients = {}
    rest = args.instances - args.move_size
    others = args.studies - 1
    n = 0
    info = {"dir": args.out_dir, "instances": args.instances}
    for k in range(args.studies):
        g = 1 + k // 2
        if g not in patients:
            patients[g] = (g, SURNAMES[(g * 7919) % 100] + "^" + FIRST[g % 8],
                           (datetime.date(1930, 1, 1) + datetime.timedelta(days=g * 37 % 30000)).strftime("%Y%m%d"))
        study = {"uid": ROOT + str(k + 1), "k": k + 1,
                 "date": (start + datetime.timedelta(days=(k + 1) * 1543 % 3650)).strftime("%Y%m%d"),
                 "time": "%02d%02d00" % (7 + (k % 600) // 60, k % 60)}
        series = study["uid"] + ".1"
        if k == 0:
            count, side = args.move_size, 256
            info["move_study_uid"] = study["uid"]
        else:
            count, side = rest // others + (1 if (k - 1) < rest % others else 0), 64
        for i in range(1, count + 1):
            write(os.path.join(args.out_dir, "%07d.dcm" % n), study, series, 1, "%s.%d" % (series, i), i,
                  patients[g], side)
            n += 1
        if k == args.studies // 2:
            info.update(patient_id="QP%07d" % g, study_uid=study["uid"], series_uid=series)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
