#!/usr/bin/env python3
"""Tests of tools/deterministic_zip.py (make test-repro-zip): the same
contents give the same bytes whatever the files' paths, mtimes, modes and
argument order; a different commit time or content gives different bytes."""

import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "deterministic_zip.py")


def run_zip(out, entries, epoch):
    env = dict(os.environ)
    if epoch is None:
        env.pop("SOURCE_DATE_EPOCH", None)
    else:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    args = [sys.executable, SCRIPT, out] + [f"{n}={p}" for n, p in entries]
    return subprocess.run(args, env=env, capture_output=True, text=True)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_file(directory, name, data, mode, mtime):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))
    return path


class DeterministicZip(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.a = os.path.join(self.root, "build-a", "deep")
        self.b = os.path.join(self.root, "b")
        os.makedirs(self.a)
        os.makedirs(self.b)

    def tearDown(self):
        self.tmp.cleanup()

    def build(self, directory, mode, mtime, order, epoch=1700000000, binary=b"\x7fELF" + b"x" * 5000):
        boot = make_file(directory, "bootstrap", binary, mode, mtime)
        extra = make_file(directory, "notes.txt", b"hello\n", 0o600, mtime + 7)
        entries = [("bootstrap", boot), ("notes.txt", extra)]
        if order == "reversed":
            entries.reverse()
        out = os.path.join(directory, "bootstrap.zip")
        done = run_zip(out, entries, epoch)
        self.assertEqual(done.returncode, 0, done.stderr)
        return out

    def test_same_contents_same_bytes_across_paths_mtimes_modes_and_order(self):
        one = self.build(self.a, 0o700, 1000000000, "sorted")
        two = self.build(self.b, 0o775, 1600000000, "reversed")
        self.assertEqual(sha256(one), sha256(two))

    def test_entries_sorted_with_fixed_time_and_modes(self):
        out = self.build(self.a, 0o700, 1000000000, "reversed", epoch=1700000000)
        with zipfile.ZipFile(out) as z:
            infos = z.infolist()
            self.assertEqual([i.filename for i in infos], ["bootstrap", "notes.txt"])
            self.assertEqual(infos[0].date_time, (2023, 11, 14, 22, 13, 20))
            self.assertEqual(stat.S_IMODE(infos[0].external_attr >> 16), 0o755)
            self.assertEqual(stat.S_IMODE(infos[1].external_attr >> 16), 0o644)
            self.assertTrue(stat.S_ISREG(infos[0].external_attr >> 16))
            self.assertEqual(infos[0].compress_type, zipfile.ZIP_DEFLATED)
            self.assertEqual(z.read("bootstrap")[:4], b"\x7fELF")

    def test_commit_time_and_content_change_the_bytes(self):
        base = sha256(self.build(self.a, 0o755, 1, "sorted", epoch=1700000000))
        later = sha256(self.build(self.a, 0o755, 1, "sorted", epoch=1700000002))
        changed = sha256(self.build(self.a, 0o755, 1, "sorted", binary=b"\x7fELFy"))
        self.assertNotEqual(base, later)
        self.assertNotEqual(base, changed)

    def test_epoch_before_1980_and_unset_are_1980(self):
        out = self.build(self.a, 0o755, 1, "sorted", epoch=5)
        first = sha256(out)
        with zipfile.ZipFile(out) as z:
            self.assertEqual(z.infolist()[0].date_time, (1980, 1, 1, 0, 0, 0))
        self.assertEqual(sha256(self.build(self.a, 0o755, 1, "sorted", epoch=None)), first)

    def test_bad_input_fails_without_leaving_a_file(self):
        boot = make_file(self.a, "bootstrap", b"x", 0o755, 1)
        out = os.path.join(self.a, "out.zip")
        for entries, epoch, message in [
            ([("bootstrap", boot)], "yesterday", "SOURCE_DATE_EPOCH"),
            ([("bootstrap", boot), ("bootstrap", boot)], 1, "duplicate"),
            ([("../bootstrap", boot)], 1, "relative"),
            ([("bootstrap", os.path.join(self.a, "missing"))], 1, "missing"),
        ]:
            done = run_zip(out, entries, epoch)
            self.assertEqual(done.returncode, 1, done.stderr)
            self.assertIn(message, done.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertEqual([f for f in os.listdir(self.a) if f.startswith(".zip-")], [])


if __name__ == "__main__":
    unittest.main()
