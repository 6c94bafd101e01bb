"""Seed-style Python baseline: line by line with the standard library, the
same rules as our GHCN rule set / JSON-lines calculation."""
import csv
import datetime
import json
import re
import sys

ELEMENTS = set(json.load(open(sys.argv[5]))["schema"]["fields"][2]["constraints"]["enum"]) if len(sys.argv) > 5 else None
ID = re.compile(r"[A-Z]{2}[A-Z0-9]{9}\Z")
M, Q, S = set("BDHKLOPTW"), set("DGIKLMNORSTWXZ"), set("012567AaBbCDdEFfGHIKMmNQRrSsTUuWXZz")


def valid_row(r):
    if len(r) != 8:
        return False
    i, d, e, v, m, q, s, t = r
    if len(i) != 11 or not ID.match(i):
        return False
    if len(d) != 8 or not d.isdigit():
        return False
    try:
        datetime.date(int(d[:4]), int(d[4:6]), int(d[6:]))
        int(v)
    except ValueError:
        return False
    if e not in ELEMENTS:
        return False
    if (m and m not in M) or (q and q not in Q) or (s and s not in S):
        return False
    if t and t != "2400" and not (len(t) == 4 and t.isdigit() and int(t[:2]) < 24 and int(t[2:]) < 60):
        return False
    return True


def ghcn(src, clean, rejects):
    n = ok = bad = 0
    with open(src, newline="") as f, open(clean, "w", newline="") as c, open(rejects, "w") as r:
        w = csv.writer(c, lineterminator="\n")
        for line_no, row in enumerate(csv.reader(f), 1):
            n += 1
            if valid_row(row):
                w.writerow(row)
                ok += 1
            else:
                r.write(json.dumps({"line": line_no, "record": ",".join(row)}) + "\n")
                bad += 1
    print(json.dumps({"records_in": n, "records_ok": ok, "records_rejected": bad}))


def yelp(src, out, rejects):
    n = ok = bad = 0
    with open(src) as f, open(out, "w") as o, open(rejects, "w") as r:
        for line_no, line in enumerate(f, 1):
            n += 1
            try:
                obj = json.loads(line)
                obj["review_score"] = float(obj["stars"]) * float(obj["review_count"])
            except (ValueError, KeyError, TypeError):
                r.write(json.dumps({"line": line_no}) + "\n")
                bad += 1
                continue
            o.write(json.dumps(obj) + "\n")
            ok += 1
    print(json.dumps({"records_in": n, "records_ok": ok, "records_rejected": bad}))


if __name__ == "__main__":
    {"csv": ghcn, "jsonl": yelp}[sys.argv[1]](*sys.argv[2:5])
