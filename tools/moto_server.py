"""moto's own `moto_server`, with one per-request cost taken out.

moto routes each request by asking `moto.backends.list_of_moto_modules()`,
which lists moto's package directory and stats every entry: about 200
system calls per request, a third of a small PUT's time in moto 5.2.5. The
list cannot change while the server runs, so it is computed once here.
Everything else is moto unchanged; the arguments are moto_server's.
"""

import sys

import moto.backends

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MODULES

from moto.server import main  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    sys.exit(main())
