"""The runner of the project's Python test scripts, without pytest: every
`test_*` function of a module in name order, each failure printed with
its traceback, then "N passed, N failed" (the closing line CI reads).

Use at the end of a test script:
    if __name__ == "__main__":
        sys.exit(plain_runner.run(globals()))
"""
from __future__ import annotations

import traceback


def run(namespace: dict) -> int:
    """Runs the namespace's `test_*` functions; 1 if any failed, else 0."""
    tests = [(n, f) for n, f in sorted(namespace.items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {name}")
            print("".join(traceback.format_exc()).rstrip())
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
