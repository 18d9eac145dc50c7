#!/bin/sh
# Installs libkcp: the shared and static libraries, the C headers and a pkg-config file.
#
#   cargo build --release -p kcp-ffi
#   sudo ffi/install.sh                          # into /usr/local
#   ffi/install.sh --prefix "$HOME/.local"       # anywhere else
#
# Options:
#   --prefix DIR     installation prefix (default /usr/local)
#   --libdir DIR     where the libraries and pkgconfig/kcp.pc go (default PREFIX/lib)
#   --includedir DIR where kcp.h and ikcp.h go (default PREFIX/include)
#   --from DIR       where cargo put the built libraries (default target/release of this
#                    repository; CARGO_TARGET_DIR/release if that is set)
#   --destdir DIR    stage the files under DIR (for packaging); kcp.pc still names PREFIX
#
# Afterwards `pkg-config --cflags --libs kcp` gives the flags (add LIBDIR/pkgconfig to
# PKG_CONFIG_PATH if it is not a standard location, and run ldconfig, or set LD_LIBRARY_PATH,
# for a LIBDIR the dynamic linker does not search).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
prefix=/usr/local
libdir=
includedir=
from=${CARGO_TARGET_DIR:-$root/target}/release
destdir=

while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --libdir) libdir=$2; shift 2 ;;
    --includedir) includedir=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
libdir=${libdir:-$prefix/lib}
includedir=${includedir:-$prefix/include}

if [ ! -f "$from/libkcp.so" ] && [ ! -f "$from/libkcp.a" ]; then
    echo "install.sh: no libkcp.so or libkcp.a in $from; run cargo build --release -p kcp-ffi first" >&2
    exit 1
fi
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$here/Cargo.toml" | head -n 1)

mkdir -p "$destdir$libdir/pkgconfig" "$destdir$includedir"
for lib in libkcp.so libkcp.a; do
    if [ -f "$from/$lib" ]; then
        cp "$from/$lib" "$destdir$libdir/$lib"
        chmod 644 "$destdir$libdir/$lib"
    fi
done
for header in kcp.h ikcp.h; do
    if [ -f "$here/include/$header" ]; then
        cp "$here/include/$header" "$destdir$includedir/$header"
        chmod 644 "$destdir$includedir/$header"
    fi
done
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@INCLUDEDIR@|$includedir|g" \
    -e "s|@VERSION@|$version|g" "$here/kcp.pc.in" >"$destdir$libdir/pkgconfig/kcp.pc"
echo "installed libkcp $version: $destdir$libdir, $destdir$includedir, $destdir$libdir/pkgconfig/kcp.pc"
