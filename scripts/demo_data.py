"""Generates a GHCN-Daily-like sample data set and uploads it to S3 (moto).

Files look like NOAA's by-year CSVs (no header:
ID,DATE,ELEMENT,DATA_VALUE,M_FLAG,Q_FLAG,S_FLAG,OBS_TIME). A few rows per
file are broken on purpose, one kind each, so the demo's rejects file has
something to show; the script prints how many, so the run's summary can be
checked against it. Deterministic for a given --seed.

Usage: demo_data.py --endpoint URL --bucket B [--prefix incoming/]
                    [--files 12] [--rows 5000] [--seed 1]
"""

import argparse
import datetime
import io
import json
import random
import sys

import boto3

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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="incoming/")
    p.add_argument("--files", type=int, default=12)
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--broken-per-file", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if not a.endpoint.startswith("http://127.0.0.1:"):
        sys.exit("demo_data: --endpoint must be a loopback moto server (http://127.0.0.1:PORT)")
    if not 0 <= a.broken_per_file <= min(len(BROKEN), a.rows):
        sys.exit(f"demo_data: --broken-per-file must be 0..{min(len(BROKEN), a.rows)}")
    rng = random.Random(a.seed)
    s3 = boto3.client("s3", endpoint_url=a.endpoint)
    s3.create_bucket(Bucket=a.bucket)
    total_bytes = 0
    for n in range(a.files):
        body = make_file(rng, 1990 + n, a.rows, a.broken_per_file)
        total_bytes += len(body)
        s3.put_object(Bucket=a.bucket, Key=f"{a.prefix}{1990 + n}.csv", Body=body)
    print(json.dumps({
        "bucket": a.bucket,
        "prefix": a.prefix,
        "files": a.files,
        "rows": a.files * a.rows,
        "broken_rows": a.files * a.broken_per_file,
        "bytes": total_bytes,
    }))


if __name__ == "__main__":
    main()
