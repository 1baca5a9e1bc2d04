"""ncfxtest: the one import of the netcfax integration tests (Python 3 standard library only).

    import ncfxtest as nt

gives every public name of the modules below, which are best read in this order:

- ncfx_proc: binaries and source tree ($NETCFAX_BIN_DIR, $NETCFAX_SRC_DIR), the registry of
  every process and temporary directory a test starts and its cleanup, free ports, run_cmd
  and the sanitizer check of every program's output.
- ncfx_server: Server, a netcfaxd on 127.0.0.1 with a fresh state dir, config and log; the
  server's log lines and fingerprint.
- ncfx_client: Client runs the netcfax command-line client with its own HOME; Watcher keeps
  `netcfax watch --json` running; the client's exit codes.
- ncfx_wire: the wire protocol byte by byte (frames, attributes, RawConn over TLS or plain
  TCP), with its numbers read from common/proto.h at import.
- ncfx_images: make_tiff writes a minimal uncompressed bilevel fax TIFF by hand; TIFFs read
  back page by page and pixel by pixel.
- ncfx_netlab: mount and network namespaces for the tests that run as root (NetLab,
  nat_router, Miniupnpd, TwoSites, MountNamespace).
- ncfx_runner: main(), which prints the servers' logs when a test fails.

Each module is imported once, so its state (the cleanup registries, BIN_DIR) exists once,
whichever name a test reaches it by. Every wait is bounded and every process and temporary
directory is cleaned up, also when a test fails.
"""

import os
import sys
import types

sys.dont_write_bytecode = True   # the modules below leave no __pycache__ in the source tree
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import ncfx_proc  # noqa: E402
import ncfx_server  # noqa: E402
import ncfx_client  # noqa: E402
import ncfx_wire  # noqa: E402
import ncfx_images  # noqa: E402
import ncfx_netlab  # noqa: E402
import ncfx_runner  # noqa: E402

# Private names the tests use all the same: the registry of live processes, cleanup
# registration and the environment without the caller's netcfax settings.
_live_procs = ncfx_proc._live_procs
_register_cleanup = ncfx_proc._register_cleanup
_base_env = ncfx_proc._base_env


def _export(*modules):
    """Every public name of modules (not the modules they import), into this module; a name
    two modules give different objects fails the import."""
    g = globals()
    origin = {}
    for m in modules:
        for name, value in vars(m).items():
            if name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            if name in origin and g[name] is not value:
                raise ImportError("ncfxtest: %s is both %s.%s and %s.%s"
                                  % (name, origin[name], name, m.__name__, name))
            origin.setdefault(name, m.__name__)
            g[name] = value


_export(ncfx_proc, ncfx_server, ncfx_client, ncfx_wire, ncfx_images, ncfx_netlab, ncfx_runner)
