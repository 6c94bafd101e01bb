"""Checks one jobs bench run (the JSON lines measure.py wrote): every tool
exited 0, and every tool that counts records counted the same ones as the
others on the same work. A timing next to a different count compares
different work, so a mismatch fails the bench instead of being printed.

Usage: python3 compare.py RESULTS.jsonl   exit 1 on a crash or a mismatch
       python3 compare.py --self-test     checks this check on planted runs
"""
import json
import sys

COUNTS = ("records_in", "records_ok", "records_rejected")
# Tools timed for reference only: they do no work that has counts.
UNCOUNTED = {"copy"}


def counts_of(run):
    """The counts a tool printed: the last JSON object line of its stdout."""
    for line in reversed(run.get("output", "").splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and all(k in value for k in COUNTS):
            return tuple(value[k] for k in COUNTS)
    return None


def problems(runs):
    """What is wrong with a bench run, one sentence each; empty if nothing."""
    found = []
    by_work = {}
    for run in runs:
        tool, _, work = run["label"].partition("/")
        if run.get("exit") != 0:
            found.append(f"{run['label']}: exited {run.get('exit')}")
            continue
        if tool in UNCOUNTED:
            continue
        counts = counts_of(run)
        if counts is None:
            found.append(f"{run['label']}: printed no counts ({run.get('output', '')!r})")
            continue
        by_work.setdefault(work, []).append((tool, counts))
    for work, tools in by_work.items():
        if len({counts for _, counts in tools}) > 1:
            table = "; ".join(f"{tool} {dict(zip(COUNTS, counts))}" for tool, counts in tools)
            found.append(f"{work}: the tools counted different records: {table}")
    return found


def self_test():
    def run(label, counts, code=0):
        out = json.dumps(dict(zip(COUNTS, counts))) if counts else "Traceback ..."
        return {"label": label, "exit": code, "output": out}

    same = [run("copy/csv", None), run("ours/csv", (10, 9, 1)), run("python/csv", (10, 9, 1))]
    assert problems(same) == [], problems(same)
    # Counts on stdout after other output (ours prints a line of its own).
    noisy = dict(run("ours/csv", (10, 9, 1)), output='progress\n{"records_in": 10, "records_ok": 9, "records_rejected": 1}')
    assert problems([noisy, run("python/csv", (10, 9, 1))]) == []
    mismatch = problems(same + [run("duckdb/csv", (10, 8, 2))])
    assert len(mismatch) == 1 and "duckdb" in mismatch[0] and "csv" in mismatch[0], mismatch
    crash = problems(same + [run("polars/csv", None, code=1)])
    assert crash == ["polars/csv: exited 1"], crash
    silent = problems(same + [run("polars/csv", None)])
    assert len(silent) == 1 and "printed no counts" in silent[0], silent
    # Different works are compared separately, never with each other.
    assert problems(same + [run("ours/jsonl", (5, 5, 0)), run("python/jsonl", (5, 5, 0))]) == []
    assert len(problems([run("ours/jsonl", (5, 5, 0)), run("python/jsonl", (6, 5, 1))])) == 1
    print("compare.py self-test: ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    found = problems(runs)
    for p in found:
        print(f"bench FAILED: {p}", file=sys.stderr)
    if not found:
        works = sorted({r["label"].partition("/")[2] for r in runs})
        print(f"counts agree across tools ({', '.join(works)})", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
