#!/bin/sh
# libnetcfax as installed: `cmake --install` of the dev component (libnetcfax.a, netcfax.h,
# netcfax.pc) into a scratch DESTDIR, then a program outside the tree compiled and linked with
# what pkg-config says about the installed netcfax.pc, and run.
#   test_libnetcfax.sh CMAKE BUILD_DIR LIBDIR INCLUDEDIR CC      (LIBDIR, INCLUDEDIR: full paths)
set -eu
cmake=$1 build=$2 libdir=$3 includedir=$4 cc=$5
work=$(mktemp -d "${TMPDIR:-/tmp}/libnetcfax.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

DESTDIR=$root "$cmake" --install "$build" --component dev >"$work/install.log"
for f in "$libdir/libnetcfax.a" "$libdir/pkgconfig/netcfax.pc" "$includedir/netcfax/netcfax.h"; do
	[ -f "$root$f" ] || { cat "$work/install.log"; echo "not installed: $f" >&2; exit 1; }
done

cat >"$work/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <netcfax/netcfax.h>

int main(void)
{
	/* ncfx_watch_new is referenced so that the watch (and the port mapping under it) links. */
	ncfx_watch *(*volatile watch_new)(const struct ncfx_watch_options *, char *, size_t) =
		ncfx_watch_new;
	ncfx_client *c = ncfx_client_new();
	if (!c || !watch_new)
		return 1;
	const char *s = ncfx_status_str(NCFX_OK);
	ncfx_client_free(c);
	if (!s || !*s)
		return 1;
	printf("%s\n", s);
	return 0;
}
C

export PKG_CONFIG_PATH="$root$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs netcfax)
echo "pkg-config --cflags --libs netcfax: $flags"
case "$flags" in
*"-I$root$includedir"*) ;;
*) echo "netcfax.pc names no include directory under the DESTDIR" >&2; exit 1 ;;
esac
# Only the installed copy: no include path or library of the source or build tree.
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror -o "$work/prog" "$work/prog.c" $flags
"$work/prog"
# The same with --static (what a static-only library is linked with anyway).
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror -o "$work/prog-static" "$work/prog.c" $(pkg-config --static --cflags --libs netcfax)
"$work/prog-static" >/dev/null
echo "libnetcfax: installed, compiled against and linked"
