#!/usr/bin/env python3
"""Regenerates the archives some cases hold in their context (the BuildKit
tests build them in Go with archive/tar). Deterministic: fixed mtimes, root
owners unless the test says otherwise. Run from this folder:
    python3 mkarchives.py
"""
import gzip, io, os, subprocess, tarfile

MTIME = 946684800  # 2000-01-01


def tar(entries):
    """entries: (name, type, mode, data_or_link, uid, gid)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tw:
        for e in entries:
            name, typ, mode, data = e[:4]
            uid, gid = (e[4], e[5]) if len(e) > 4 else (0, 0)
            ti = tarfile.TarInfo(name)
            ti.mode, ti.mtime, ti.uid, ti.gid = mode, MTIME, uid, gid
            ti.uname = ti.gname = ""
            if typ == "file":
                ti.type, ti.size = tarfile.REGTYPE, len(data)
                tw.addfile(ti, io.BytesIO(data))
            elif typ == "dir":
                ti.type = tarfile.DIRTYPE
                tw.addfile(ti)
            elif typ == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tw.addfile(ti)
            elif typ == "link":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                tw.addfile(ti)
    return buf.getvalue()


def gz(b):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as g:
        g.write(b)
    return out.getvalue()


def zst(b):
    return subprocess.run(["zstd", "-q", "-c", "--no-check"], input=b, stdout=subprocess.PIPE, check=True).stdout


def put(case, name, data):
    d = os.path.join(case, "context")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


foo = tar([("foo", "file", 0o644, b"content0")])
put("add-archive-tar", "t.tar", foo)
put("add-archive-gzip", "t.tar.gz", gz(foo))
put("add-archive-zstd", "t.tar.zst", zst(foo))
put("add-archive-unpack-false", "t.tar.gz", gz(foo))
put("add-archive-copy-no-extract", "t.tar.gz", gz(foo))
put("add-chown-archive", "t.tar", foo)
put("add-archive-wildcard", "t.tar", foo)
put("add-archive-wildcard", "b.tar", tar([("bar", "file", 0o644, b"content1")]))
put("add-archive-implied-parent-dir", "t.tar.gz", gz(tar([
    ("etc/dnf/", "dir", 0o755, None),
    ("etc/dnf/dnf.conf", "file", 0o644, b"content0"),
])))
put("add-archive-through-absolute-symlink", "rootfs.tar", tar([
    ("run/", "dir", 0o755, None),
    ("var/", "dir", 0o755, None),
    ("var/run", "symlink", 0o777, "/run"),
]))
put("add-archive-through-absolute-symlink", "payload.tar", tar([
    ("var/run/act/", "dir", 0o755, None),
    ("var/run/act/actions/", "dir", 0o755, None),
    ("var/run/act/actions/broad/", "dir", 0o755, None),
    ("var/run/act/actions/broad/.git/", "dir", 0o755, None),
    ("var/run/act/actions/broad/.git/HEAD", "file", 0o644, b"ref: refs/heads/main\n"),
    ("var/run/act/actions/broad/.git/HEAD.link", "link", 0o644, "var/run/act/actions/broad/.git/HEAD"),
]))
put("core-symlink-destination", "t.tar", tar([
    ("symlink", "symlink", 0o755, "../tmp/symlink-target"),
]))
