#!/usr/bin/python3
"""The C-FIND matching corpus (docs/dicom-conformance.md §4): a small, fixed set of
patients whose values sit on either side of each matching rule.

usage: gen_query_corpus.py OUT_DIR

Every patient has one study; study k has StudyInstanceUID 1.2.826.0.1.3680043.10.1337.9.k
and one series per modality (SeriesInstanceUID <study>.<n>) of one instance each
(SOPInstanceUID <series>.1, InstanceNumber as listed). Names are written in the listed
Specific Character Set (pydicom encodes them).
"""
import os
import sys

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ROOT = "1.2.826.0.1.3680043.10.1337.9."

# Sequences for sequence matching: ProcedureCodeSequence (study level) of patients 0 and 1,
# RequestAttributesSequence (series level) of patient 0's first series.
PROCEDURE_CODES = {
    0: [("CTCHEST", "LOCAL", "CT Chest"), ("CTABD", "LOCAL", "CT Abdomen")],
    1: [("MRBRAIN", "LOCAL", "MR Brain")],
}


# AcquisitionDateTime (DT, instance level, kept in the attributes jsonb) of patients 0-2:
# 11:30 UTC, 10:00 UTC (12:00 at +0200), and a whole day without a time.
ACQUISITION_DATETIMES = {0: "20240101113000+0000", 1: "20240101120000+0200", 2: "20240101"}


def code_item(value, scheme, meaning):
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


# PatientID, PatientName, charset, StudyDate, StudyTime, modalities, InstanceNumber
PATIENTS = [
    ("abc", "Doe^John", "ISO_IR 100", "20240115", "1130", ["CT", "PT"], "1"),
    ("ABC", "DOE^JOHN^^^", "ISO_IR 100", "20240116", "1300", ["MR"], "2"),
    ("AB", "MyName[x]", "ISO_IR 100", "20240101", "120030", ["CT"], "007"),
    ("A-1", "Yamada^Taro=山田^太郎", "ISO_IR 192", "20240131", "0700", ["MR"], "3"),
    ("AÜC", "Schmidt^Eva", "ISO_IR 192", "19991231", "0700", ["US"], "4"),
    ("LAT1", "MÜLLER^HANS", "ISO_IR 100", "20991231", "0700", ["CR"], "5"),
    ("UTF8", "Müller^Anna", "ISO_IR 192", "", "", ["DX"], "6"),
]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for k, (pid, name, charset, date, time, modalities, number) in enumerate(PATIENTS):
        study = ROOT + str(k)
        for n, modality in enumerate(modalities, start=1):
            series = "%s.%d" % (study, n)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
            meta.MediaStorageSOPInstanceUID = series + ".1"
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.is_little_endian = True
            ds.is_implicit_VR = False
            ds.SpecificCharacterSet = charset
            ds.SOPClassUID = CT_IMAGE_STORAGE
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.PatientID = pid
            ds.PatientName = name
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = series
            ds.StudyDate = date
            ds.StudyTime = time
            ds.AccessionNumber = "ACC%d" % k
            ds.StudyID = str(k)
            ds.Modality = modality
            ds.SeriesNumber = n
            ds.InstanceNumber = number
            ds.Rows = 2
            ds.Columns = 2
            ds.BitsAllocated = 16
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelRepresentation = 0
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.PixelData = bytes(8)
            if k in ACQUISITION_DATETIMES:
                ds.AcquisitionDateTime = ACQUISITION_DATETIMES[k]
            if k in PROCEDURE_CODES:
                ds.ProcedureCodeSequence = Sequence([code_item(*c) for c in PROCEDURE_CODES[k]])
            if k == 0 and n == 1:
                request = Dataset()
                request.RequestedProcedureID = "RP1"
                request.ScheduledProcedureStepID = "SPS1"
                ds.RequestAttributesSequence = Sequence([request])
            ds.save_as(os.path.join(out, "%d_%d.dcm" % (k, n)), write_like_original=False)


if __name__ == "__main__":
    main()
