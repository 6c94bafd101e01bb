"""Generates a demo's sample data set and uploads it to S3 (moto), or
writes it into a local directory (--dir: the SFTP demo's served directory).

--kind ghcn (default): files like NOAA's GHCN-Daily by-year CSVs (no header:
ID,DATE,ELEMENT,DATA_VALUE,M_FLAG,Q_FLAG,S_FLAG,OBS_TIME).
--kind xml: catalog files like the seed's (<catalog><book id=..>...),
one record per <book>.
--kind images: photo-like JPEGs and PNGs of a few sizes (Pillow), one
record per file.
A few records per file (per data set for images) are broken on purpose,
one kind each, so the demo's rejects have something to show; the script
prints how many records it wrote and how many are broken, so the run's
summary can be checked against it. Deterministic for a given --seed.

Usage: demo_data.py --endpoint URL --bucket B [--kind ghcn|xml|images]
                    [--prefix incoming/] [--files 12] [--rows 5000] [--seed 1]
       demo_data.py --dir DIR [--kind ...] [--files 12] [--rows 5000] [--seed 1]
"""

import argparse
import datetime
import io
import json
import os
import random
import sys

STATIONS = ["USW00094728", "USW00023174", "USC00045933", "CA006158355", "GME00127786",
            "ASN00086071", "JA000047662", "BR047498000", "USW00014739", "MXM00076680"]
ELEMENTS = {"TMAX": (-300, 450), "TMIN": (-400, 350), "PRCP": (0, 1200), "SNOW": (0, 600), "SNWD": (0, 1500)}
M_FLAGS = ["", "", "", "", "T", "B"]
Q_FLAGS = ["", "", "", "", "", "", "", "", "I", "S"]
S_FLAGS = ["W", "7", "0", "a", "N", "E"]

# One broken row of each kind, what it breaks: the reason shows in rejects.
BROKEN = [
    ("not a calendar date", lambda r: r.__setitem__(1, r[1][:4] + "0230")),
    ("unknown element", lambda r: r.__setitem__(2, "TEMP")),
    ("value is not an integer", lambda r: r.__setitem__(3, "12.5")),
    ("station id too short", lambda r: r.__setitem__(0, r[0][:8])),
    ("OBS_TIME out of range", lambda r: r.__setitem__(7, "2460")),
    ("quality flag not in the set", lambda r: r.__setitem__(5, "Q")),
    ("missing required value", lambda r: r.__setitem__(3, "")),
    ("too few fields", lambda r: r.__delitem__(slice(4, None))),
]


def good_row(rng, day):
    element = rng.choice(list(ELEMENTS))
    low, high = ELEMENTS[element]
    return [
        rng.choice(STATIONS),
        day.strftime("%Y%m%d"),
        element,
        str(rng.randint(low, high)),
        rng.choice(M_FLAGS),
        rng.choice(Q_FLAGS),
        rng.choice(S_FLAGS),
        rng.choice(["", "0700", "1600", "0000"]),
    ]


def make_file(rng, year, rows, broken_per_file):
    start = datetime.date(year, 1, 1)
    broken_at = set(rng.sample(range(rows), broken_per_file))
    kinds = iter(rng.sample(BROKEN, broken_per_file))
    out = io.StringIO()
    for i in range(rows):
        row = good_row(rng, start + datetime.timedelta(days=i * 365 // rows))
        if i in broken_at:
            next(kinds)[1](row)
        out.write(",".join(row) + "\n")
    return out.getvalue().encode()


# XML records broken on purpose; each is rejected on its own and the file
# goes on (the transform resynchronises at the next record).
XML_BROKEN = [
    ("an entity XML does not define", lambda b: b.replace("<title>", "<title>&nbsp;", 1)),
    ("an unescaped ampersand", lambda b: b.replace("<author>", "<author>Smith & ", 1)),
]
GENRES = ["Computer", "Fantasy", "Romance", "Horror", "Science Fiction"]


def xml_book(rng, n):
    return (
        f'  <book id="bk{n:06d}">\n'
        f"    <author>{rng.choice(['Gambardella, Matthew', 'Ralls, Kim', 'Corets, Eva', 'Randall, Cynthia'])}</author>\n"
        f"    <title>{rng.choice(['XML Developer', 'Midnight Rain', 'Maeve Ascendant', 'Oberon'])} {n}</title>\n"
        f"    <genre>{rng.choice(GENRES)}</genre>\n"
        f"    <price>{rng.randint(100, 9999) / 100:.2f}</price>\n"
        f"    <publish_date>20{rng.randint(0, 25):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}</publish_date>\n"
        f"    <description>An &lt;em&gt;example&lt;/em&gt; book, &#8220;number&#8221; {n}.</description>\n"
        "  </book>\n"
    )


def make_xml_file(rng, rows, broken_per_file, first_id):
    broken_at = dict(zip(rng.sample(range(rows), broken_per_file), rng.sample(XML_BROKEN, broken_per_file)))
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<catalog>\n')
    for i in range(rows):
        book = xml_book(rng, first_id + i)
        if i in broken_at:
            book = broken_at[i][1](book)
        out.write(book)
    out.write("</catalog>\n")
    return out.getvalue().encode()


def photo(rng, width, height, fmt):
    """A photo-like image: smooth gradients plus noise, so it compresses
    as photos do (not as a flat colour would)."""
    from PIL import Image, ImageFilter

    small = Image.new("RGB", (max(width // 16, 2), max(height // 16, 2)))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range(small.width * small.height)])
    img = small.resize((width, height), Image.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    img = Image.blend(img, noise, 0.15)
    out = io.BytesIO()
    img.save(out, format=fmt, quality=88) if fmt == "JPEG" else img.save(out, format=fmt)
    return out.getvalue()


def bomb_png(width=100_000, height=100_000):
    """A valid PNG header and a tiny compressed stream claiming
    width x height pixels: refused from its header, never decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * 64
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * 64, 9)) + chunk(b"IEND", b"")


def image_files(rng, count):
    """(name, bytes) of `count` good images, then the broken ones."""
    sizes = [(640, 480), (1024, 768), (480, 640), (300, 300)]
    files = []
    for n in range(count):
        w, h = sizes[n % len(sizes)]
        fmt, ext = ("PNG", "png") if n % 5 == 4 else ("JPEG", "jpg")
        files.append((f"photo-{n:04d}.{ext}", photo(rng, w, h, fmt)))
    good_jpeg = files[0][1]
    broken = [
        ("truncated.jpg", good_jpeg[: len(good_jpeg) // 3]),
        ("empty.jpg", b""),
        ("not-an-image.jpg", b"this is text, not a JPEG\n"),
        ("bomb.png", bomb_png()),
    ]
    return files, broken


class S3Sink:
    """Puts each file as an object under the prefix (the bucket made first)."""

    def __init__(self, endpoint, bucket, prefix):
        import boto3

        self.s3, self.bucket, self.prefix = boto3.client("s3", endpoint_url=endpoint), bucket, prefix
        self.s3.create_bucket(Bucket=bucket)

    def put(self, name, body):
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}{name}", Body=body)
        return len(body)


class DirSink:
    """Writes each file into a local directory (made if missing), through a
    temporary name and a rename, so a server listing it never sees half a
    file."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)

    def put(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path + ".part", "wb") as f:
            f.write(body)
        os.replace(path + ".part", path)
        return len(body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", help="moto server URL (with --bucket)")
    p.add_argument("--bucket")
    p.add_argument("--dir", help="write the files into this local directory instead of S3")
    p.add_argument("--prefix", default="incoming/")
    p.add_argument("--files", type=int, default=12)
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--broken-per-file", type=int, default=None,
                   help="records broken on purpose per file (default: 3 for ghcn, 2 for xml)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kind", choices=["ghcn", "xml", "images"], default="ghcn")
    a = p.parse_args()
    if a.dir is None and (a.endpoint is None or a.bucket is None):
        sys.exit("demo_data: give --endpoint and --bucket (upload to S3), or --dir (write locally)")
    if a.dir is not None and (a.endpoint is not None or a.bucket is not None):
        sys.exit("demo_data: --dir writes locally; it does not go with --endpoint or --bucket")
    if a.dir is None and not a.endpoint.startswith("http://127.0.0.1:"):
        sys.exit("demo_data: --endpoint must be a loopback moto server (http://127.0.0.1:PORT)")
    kinds = {"ghcn": BROKEN, "xml": XML_BROKEN}
    if a.broken_per_file is None:
        a.broken_per_file = min(3, len(kinds.get(a.kind, [])))
    if a.kind in kinds and not 0 <= a.broken_per_file <= min(len(kinds[a.kind]), a.rows):
        sys.exit(f"demo_data: --broken-per-file must be 0..{min(len(kinds[a.kind]), a.rows)} for --kind {a.kind}")
    rng = random.Random(a.seed)
    sink = DirSink(a.dir) if a.dir is not None else S3Sink(a.endpoint, a.bucket, a.prefix)
    total_bytes = 0
    broken_files = None
    if a.kind == "images":
        # --files good images, and every broken kind once.
        good, broken = image_files(rng, a.files)
        for name, body in good + broken:
            total_bytes += sink.put(name, body)
        files, rows, broken_rows = len(good) + len(broken), len(good) + len(broken), len(broken)
        broken_files = [name for name, _ in broken]
    else:
        for n in range(a.files):
            if a.kind == "xml":
                body = make_xml_file(rng, a.rows, a.broken_per_file, n * a.rows)
                name = f"catalog-{n:03d}.xml"
            else:
                body = make_file(rng, 1990 + n, a.rows, a.broken_per_file)
                name = f"{1990 + n}.csv"
            total_bytes += sink.put(name, body)
        files, rows, broken_rows = a.files, a.files * a.rows, a.files * a.broken_per_file
    print(json.dumps({
        "kind": a.kind,
        **({"dir": a.dir} if a.dir is not None else {"bucket": a.bucket, "prefix": a.prefix}),
        "files": files,
        "rows": rows,
        "broken_rows": broken_rows,
        "bytes": total_bytes,
        **({"broken_files": broken_files} if broken_files is not None else {}),
    }))


if __name__ == "__main__":
    main()
