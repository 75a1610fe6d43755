#!/usr/bin/python3
"""tests/lib/cutdisk.py MOUNTPOINT SIZE_MB CUT_IMAGE [TORN_SEED] — a disk
whose power can be cut, for a real filesystem to run on (FUSE,
python3-fusepy).

MOUNTPOINT/disk is a file of SIZE_MB MiB to put a loop device on
(`losetup -f --show MOUNTPOINT/disk`) and a real filesystem on that. The
disk is as strict as a disk with a volatile write cache may be: a write is
durable only once a flush has come after it. The loop driver turns a
filesystem's flush (a barrier, FUA, fsync, syncfs) into an fsync of this
file, and that is the only thing that makes writes durable here; nothing
reaches the platter on its own.

Writing anything to MOUNTPOINT/cut cuts the power: the durable image (the
disk as of its last flush) is written to CUT_IMAGE, then CUT_IMAGE.done is
made. Writing "flush" there instead cuts it when the next flush arrives,
before that flush takes effect: the moment when the most writes are on
their way to the platter and none is yet covered. Every write after the
cut is ignored for the image, and every flush after it fails (EIO), as it
would with the power off. The image can then be checked and mounted like
a disk after a power failure.

With TORN_SEED, the cut is harsher in the other way a real disk may be:
of the writes since the last flush, some reached the platter and some did
not, in no particular order. Of the 4 KiB blocks written since the last
flush, the later half is kept, and each of the earlier half is kept or
lost by a coin (random.Random(TORN_SEED)); the kept ones are applied in
the order they were written. A disk that reorders may well persist the
later writes first, and that is the order that hurts a program counting
on the order of writes no flush separated: a name (written late) reaching
the disk before its file's data (written early).

This lets tests/integration/power_loss_disk.sh check "acknowledged means
durable" against ext4 itself (O_TMPFILE, syncfs, linkat, fdatasync, its
journal or the lack of one), where tests/lib/crashfs.py models POSIX's
rules with a filesystem of its own.
"""
import errno
import random
import stat
import sys
import time

from fusepy import FUSE, FuseOSError, Operations


BLOCK = 4096


class CutDisk(Operations):
    def __init__(self, size, cut_image, torn_seed=None):
        self.size = size
        self.torn = None if torn_seed is None else random.Random(torn_seed)
        self.current = bytearray(size)  # what reads see
        self.durable = bytearray(size)  # what a power cut leaves
        self.unflushed = []  # (offset, bytes) written since the last flush
        self.cut_image = cut_image
        self.cut = False
        self.cut_at_flush = False
        self.asked = "never"  # what asked for the cut, and when
        self.flushes = 0
        self.now = time.time()

    def getattr(self, path, fh=None):
        if path == "/":
            mode, size = stat.S_IFDIR | 0o755, 4096
        elif path == "/disk":
            mode, size = stat.S_IFREG | 0o600, self.size
        elif path == "/cut":
            mode, size = stat.S_IFREG | 0o200, 0
        else:
            raise FuseOSError(errno.ENOENT)
        return {"st_mode": mode, "st_nlink": 1, "st_size": size,
                "st_atime": self.now, "st_mtime": self.now,
                "st_ctime": self.now}

    def readdir(self, path, fh):
        return [".", "..", "disk", "cut"]

    def open(self, path, flags):
        if path not in ("/disk", "/cut"):
            raise FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        if path != "/disk":
            return b""
        return bytes(self.current[offset:offset + size])

    def write(self, path, buf, offset, fh):
        if path == "/cut":
            if not self.cut:
                self.asked = "%r at flush %d" % (bytes(buf).strip(), self.flushes)
                print("cutdisk: asked to cut: " + self.asked, file=sys.stderr, flush=True)
            if bytes(buf).startswith(b"flush"):
                self.cut_at_flush = True
            else:
                self._cut_power()
            return len(buf)
        if offset + len(buf) > self.size:
            raise FuseOSError(errno.ENOSPC)
        self.current[offset:offset + len(buf)] = buf
        self.unflushed.append((offset, bytes(buf)))
        return len(buf)

    def truncate(self, path, length, fh=None):
        if path == "/cut":
            return 0
        raise FuseOSError(errno.EPERM)

    def fsync(self, path, datasync, fh):
        if path != "/disk":
            return 0
        if self.cut_at_flush:
            self._cut_power()
        if self.cut:
            # The power is off: no flush succeeds any more, so nothing the
            # program under test is told after the cut rests on one.
            raise FuseOSError(errno.EIO)
        for offset, data in self.unflushed:
            self.durable[offset:offset + len(data)] = data
        self.unflushed.clear()
        self.flushes += 1
        return 0

    def flush(self, path, fh):
        return 0  # close(2), not a disk flush

    def release(self, path, fh):
        return 0

    def _cut_power(self):
        if self.cut:
            return
        self.cut = True
        kept = lost = 0
        if self.torn is not None:
            kept, lost = self._tear()
        else:
            lost = sum((len(data) + BLOCK - 1) // BLOCK
                       for _, data in self.unflushed)
        with open(self.cut_image, "wb") as f:
            f.write(self.durable)
        with open(self.cut_image + ".done", "w") as f:
            f.write("%d flushes (cut asked: %s); of the blocks written since "
                    "the last, %d kept and %d lost\n" % (self.flushes, self.asked, kept, lost))

    def _tear(self):
        """Apply the later half of the unflushed blocks and a random half
        of the earlier ones, in the order they were written."""
        blocks = [(offset + at, data[at:at + BLOCK])
                  for offset, data in self.unflushed
                  for at in range(0, len(data), BLOCK)]
        later = len(blocks) // 2
        kept = lost = 0
        for i, (at, piece) in enumerate(blocks):
            if i >= later or self.torn.random() < 0.5:
                self.durable[at:at + len(piece)] = piece
                kept += 1
            else:
                lost += 1
        return kept, lost


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: cutdisk.py MOUNTPOINT SIZE_MB CUT_IMAGE [TORN_SEED]")
    size = int(sys.argv[2]) << 20
    torn_seed = int(sys.argv[4]) if len(sys.argv) == 5 else None
    # One thread: every write and flush is applied in the order the
    # kernel sent it. (FUSE splits writes at 128 KiB whatever max_write
    # asks; the order is what matters.)
    FUSE(CutDisk(size, sys.argv[3], torn_seed), sys.argv[1], foreground=True,
         nothreads=True, big_writes=True, max_write=1 << 20)


if __name__ == "__main__":
    main()
