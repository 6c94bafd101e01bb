"""The seed's tool as the oracle of jobs/tests/xml_crosscheck.rs: what
`json.dumps(xmltodict.parse(xml))` makes of each file, one JSON document per
line: the whole document, or every element at RECORD_PATH as
`{"<name>": <value>}` (its value as xmltodict.parse gives it inside the
whole document, i.e. what parsing the element alone gives).

Usage: xmltodict_oracle.py RECORD_PATH|- FORCE_LIST|- OUT_DIR FILE...
Writes OUT_DIR/<file name>.expected for each FILE.
"""
import json
import os
import sys

import xmltodict


def records(doc, steps, force):
    """The values at `steps` under `doc`, in document order."""
    values = [doc]
    for step in steps:
        found = []
        for v in values:
            if not isinstance(v, dict) or step not in v:
                continue
            child = v[step]
            # A repeated element (or a forced one) is a list of values.
            found.extend(child if isinstance(child, list) else [child])
        values = found
    name = steps[-1]
    return [{name: [v] if name in force else v} for v in values]


def main():
    record_path, force_list, out_dir, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    force = () if force_list == "-" else tuple(force_list.split(","))
    for path in files:
        with open(path, "rb") as f:
            doc = xmltodict.parse(f, force_list=force or None)
        if record_path == "-":
            lines = [json.dumps(doc)]
        else:
            lines = [json.dumps(r) for r in records(doc, record_path.strip("/").split("/"), force)]
        with open(os.path.join(out_dir, os.path.basename(path) + ".expected"), "w") as out:
            out.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    sys.exit(main())
