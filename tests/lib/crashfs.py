#!/usr/bin/python3
"""tests/lib/crashfs.py MOUNTPOINT DUMPDIR — a filesystem in memory (FUSE,
python3-fusepy) that keeps, beside what readers see, what a power cut would
leave: the durable state. It is as strict as POSIX allows a disk to be:

  - a file's bytes are durable only as of its last fsync/fdatasync;
  - a name in a directory (create, mkdir, link, rename, unlink) is durable
    only as of that directory's last fsync;
  - nothing else makes anything durable (no writeback, no ordering).

Writing anything to MOUNTPOINT/.crash cuts the power: the durable state is
written out as an ordinary tree under DUMPDIR (files with their durable
bytes, a file whose bytes were never synced empty), then DUMPDIR/.done is
made. Kill the program under test first, so that it cannot sync after.

For tests of "acknowledged means durable" (tests/integration/power_loss.sh):
a program that answers before its fsyncs loses data here, where a real disk
would lose it only if the power went at the wrong moment.
"""
import errno
import os
import stat
import sys
import time

from fusepy import FUSE, FuseOSError, Operations


class Node:
    def __init__(self, mode):
        now = time.time()
        self.mode = mode
        self.data = bytearray()
        self.synced = None  # the durable bytes (None: never synced)
        self.entries = {} if stat.S_ISDIR(mode) else None
        self.synced_entries = {}  # a directory's durable names
        self.nlink = 2 if stat.S_ISDIR(mode) else 1
        self.times = (now, now, now)

    def attrs(self):
        a, m, c = self.times
        return {"st_mode": self.mode, "st_nlink": self.nlink,
                "st_size": len(self.data) if self.entries is None else 4096,
                "st_atime": a, "st_mtime": m, "st_ctime": c,
                "st_uid": os.getuid(), "st_gid": os.getgid()}


class CrashFS(Operations):
    def __init__(self, dump):
        self.root = Node(stat.S_IFDIR | 0o755)
        self.dump_dir = dump
        self.fhs = {}
        self.next_fh = 1

    # ------------------------------------------------------------ lookup
    def _split(self, path):
        parts = [p for p in path.split("/") if p]
        return parts[:-1], (parts[-1] if parts else "")

    def _node(self, path):
        n = self.root
        for p in [p for p in path.split("/") if p]:
            if n.entries is None or p not in n.entries:
                raise FuseOSError(errno.ENOENT)
            n = n.entries[p]
        return n

    def _parent(self, path):
        dirs, name = self._split(path)
        d = self._node("/" + "/".join(dirs))
        if d.entries is None:
            raise FuseOSError(errno.ENOTDIR)
        return d, name

    def _fh(self, node):
        fh = self.next_fh
        self.next_fh += 1
        self.fhs[fh] = node
        return fh

    def _by(self, path, fh):
        return self.fhs.get(fh) or self._node(path)

    # -------------------------------------------------------- operations
    def getattr(self, path, fh=None):
        return self._by(path, fh).attrs() if fh else self._node(path).attrs()

    def readdir(self, path, fh):
        return [".", ".."] + list(self._node(path).entries)

    def mkdir(self, path, mode):
        d, name = self._parent(path)
        if name in d.entries:
            raise FuseOSError(errno.EEXIST)
        d.entries[name] = Node(stat.S_IFDIR | mode)
        d.nlink += 1

    def rmdir(self, path):
        d, name = self._parent(path)
        n = d.entries.get(name)
        if n is None:
            raise FuseOSError(errno.ENOENT)
        if n.entries:
            raise FuseOSError(errno.ENOTEMPTY)
        del d.entries[name]
        d.nlink -= 1

    def create(self, path, mode, fi=None):
        d, name = self._parent(path)
        if name == ".crash":
            self._cut_power()
            return self._fh(Node(stat.S_IFREG | 0o600))
        if name in d.entries:
            raise FuseOSError(errno.EEXIST)
        n = d.entries[name] = Node(stat.S_IFREG | mode)
        return self._fh(n)

    def open(self, path, flags):
        n = self._node(path)
        if flags & os.O_TRUNC:
            n.data = bytearray()
        return self._fh(n)

    def opendir(self, path):
        return self._fh(self._node(path))

    def read(self, path, size, offset, fh):
        return bytes(self._by(path, fh).data[offset:offset + size])

    def write(self, path, buf, offset, fh):
        n = self._by(path, fh)
        if len(n.data) < offset:
            n.data.extend(b"\0" * (offset - len(n.data)))
        n.data[offset:offset + len(buf)] = buf
        return len(buf)

    def truncate(self, path, length, fh=None):
        n = self._by(path, fh)
        del n.data[length:]
        n.data.extend(b"\0" * (length - len(n.data)))

    def fsync(self, path, datasync, fh):
        n = self._by(path, fh)
        n.synced = bytes(n.data)
        return 0

    def fsyncdir(self, path, datasync, fh):
        d = self._by(path, fh)
        d.synced_entries = dict(d.entries)
        return 0

    def rename(self, old, new):
        od, oname = self._parent(old)
        nd, nname = self._parent(new)
        if oname not in od.entries:
            raise FuseOSError(errno.ENOENT)
        nd.entries[nname] = od.entries.pop(oname)

    def link(self, target, source):
        n = self._node(source)
        d, name = self._parent(target)
        if name in d.entries:
            raise FuseOSError(errno.EEXIST)
        d.entries[name] = n
        n.nlink += 1

    def unlink(self, path):
        d, name = self._parent(path)
        n = d.entries.pop(name, None)
        if n is None:
            raise FuseOSError(errno.ENOENT)
        n.nlink -= 1

    def release(self, path, fh):
        self.fhs.pop(fh, None)
        return 0

    def releasedir(self, path, fh):
        self.fhs.pop(fh, None)
        return 0

    def flush(self, path, fh):
        return 0

    def chmod(self, path, mode):
        n = self._node(path)
        n.mode = (n.mode & ~0o7777) | (mode & 0o7777)

    def chown(self, path, uid, gid):
        pass

    def utimens(self, path, times=None):
        n = self._node(path)
        a, m = times or (time.time(), time.time())
        n.times = (a, m, time.time())

    def access(self, path, amode):
        self._node(path)
        return 0

    def statfs(self, path):
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 20, "f_bfree": 1 << 19,
                "f_bavail": 1 << 19, "f_files": 1 << 20, "f_ffree": 1 << 19, "f_namemax": 255}

    # -------------------------------------------------------- power cut
    def _cut_power(self):
        def out(d, where):
            os.makedirs(where, exist_ok=True)
            for name, n in d.synced_entries.items():
                p = os.path.join(where, name)
                if n.entries is not None:
                    out(n, p)
                else:
                    with open(p, "wb") as f:
                        f.write(n.synced or b"")
        out(self.root, os.path.join(self.dump_dir, "durable"))
        open(os.path.join(self.dump_dir, ".done"), "w").close()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    # The root is durable by definition (it is the mount): what was made in
    # it before the first fsync of it is not.
    FUSE(CrashFS(sys.argv[2]), sys.argv[1], foreground=True, nothreads=True,
         default_permissions=True, allow_other=False)


if __name__ == "__main__":
    main()
