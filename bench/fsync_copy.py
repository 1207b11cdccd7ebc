#!/usr/bin/python3
"""The ingest benchmark's disk reference: copies every file of a folder into a store laid
out like pacsnode's (4,096 folders created up front, a temp file in the target folder),
each made durable the way a durable receiver must before it answers: write, fdatasync,
rename into place, fsync of the folder. No network, no parsing, no index.

usage: fsync_copy.py SOURCE_DIR STORE_DIR   (STORE_DIR/objects/000 … fff must exist)
"""

import os
import sys
import zlib

FAN_OUT = 4096


def main():
    source, store = sys.argv[1], sys.argv[2]
    objects = os.path.join(store, "objects")
    copied = 0
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        with open(path, "rb") as f:
            data = f.read()
        folder = os.path.join(objects, f"{zlib.crc32(name.encode()) % FAN_OUT:03x}")
        temp = os.path.join(folder, f".{os.getpid()}-{copied}.part")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fdatasync(fd)
        finally:
            os.close(fd)
        os.rename(temp, os.path.join(folder, name + ".dcm"))
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        copied += 1
    print(f"copied {copied} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
