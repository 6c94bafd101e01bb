"""moto's own `moto_server`, with one per-request cost taken out and one
AWS guarantee put in.

- moto routes each request by asking `moto.backends.list_of_moto_modules()`,
  which lists moto's package directory and stats every entry: about 200
  system calls per request, a third of a small PUT's time in moto 5.2.5.
  The list cannot change while the server runs, so it is computed once.
- EFS CreateAccessPoint is idempotent on its ClientToken in AWS ("a string
  ... that Amazon EFS uses to ensure idempotent creation", the API
  reference); moto 5.2.5 ignores the token and makes a second access point
  when a client retries a call whose answer it lost. Here a repeated token
  returns the access point it made, as AWS does.

Everything else is moto unchanged; the arguments are moto_server's.
"""

import sys

import moto.backends
from moto.efs.models import EFSBackend

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MODULES

_create_access_point = EFSBackend.create_access_point


def _idempotent_create_access_point(self, client_token, tags, file_system_id, posix_user, root_directory):
    for existing in self.access_points.values():
        if client_token and existing.client_token == client_token and existing.file_system_id == file_system_id:
            return existing
    return _create_access_point(self, client_token, tags, file_system_id, posix_user, root_directory)


EFSBackend.create_access_point = _idempotent_create_access_point

from moto.server import main  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    sys.exit(main())
