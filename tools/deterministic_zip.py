#!/usr/bin/env python3
"""Writes a zip whose bytes depend only on the files' contents and names.

    deterministic_zip.py OUT.zip ARCNAME=PATH [ARCNAME=PATH ...]

A zip records each entry's mtime, permissions, creating system and order;
cargo-lambda's zip takes them from the build, so two builds of the same
commit gave two different zips and the module's `source_code_hash` changed
with every build. Here every entry gets:
  - the time SOURCE_DATE_EPOCH (UTC; the commit time when lambdas/build.sh
    calls it), clamped to 1980-01-01 (the earliest a zip can record),
    and 1980-01-01 when the variable is unset;
  - mode 0755 if the source file is executable by anyone, else 0644
    (umask and checkout do not matter; Lambda needs `bootstrap` executable);
  - Unix as the creating system, deflate at level 9, no extra fields;
and the entries are written sorted by name. The zip is written next to OUT
and renamed into place, so a failed run leaves no half-written file.
"""

import os
import stat
import sys
import tempfile
import time
import zipfile

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest DOS date
UNIX_SYSTEM = 3


def source_date_epoch(environ=os.environ):
    raw = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return ZIP_EPOCH
    if not raw.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds")
    return max(int(raw), ZIP_EPOCH)


def entry_info(arcname, mode, epoch):
    info = zipfile.ZipInfo(arcname, date_time=time.gmtime(epoch)[:6])
    info.create_system = UNIX_SYSTEM
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def normalised_mode(path):
    executable = os.stat(path).st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return 0o755 if executable else 0o644


def write_zip(out, entries, epoch):
    """entries: [(arcname, path)]; arcnames must be unique."""
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate entry names in {names}")
    out_dir = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".zip-")
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
            for arcname, path in sorted(entries):
                with open(path, "rb") as src:
                    data = src.read()
                info = entry_info(arcname, normalised_mode(path), epoch)
                archive.writestr(info, data, compresslevel=9)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def parse_entries(args):
    entries = []
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{arg!r}: expected ARCNAME=PATH")
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"{name!r}: entry names are relative, without '..'")
        entries.append((name, path))
    return entries


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 64
    try:
        entries = parse_entries(argv[2:])
        write_zip(argv[1], entries, source_date_epoch())
    except (ValueError, OSError) as err:
        print(f"deterministic_zip: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
