#!/bin/sh
# Builds the escrow OCI image FROM scratch: the release binary and exactly the shared
# libraries `ldd` says it links (glibc, libm, libgcc_s and the loader), with an
# /etc/passwd naming the unprivileged user. No image is pulled.
#
#   deploy/image/build.sh [TAG] [BINARY]     (defaults: escrow:dev, a fresh release build
#                                             without the demo: --no-default-features)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tag=${1:-escrow:dev}
bin=${2:-}
if [ -z "$bin" ]; then
    # The shipped binary has no demo and no adversary or tamper code (crates/escrow-cli
    # feature `demo`).
    (cd "$repo" && cargo build --release -p escrow-cli --no-default-features)
    bin="$repo/target/release/escrow"
fi
[ -x "$bin" ] || { echo "build.sh: $bin is not an executable" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$ctx/data"
# A marker file: COPY --chown then owns /data (and a fresh volume there) to the service user.
printf 'escrow data directory\n' > "$ctx/data/.escrow-data"
# Debug information is dropped (a dev-profile binary carries hundreds of MB of it).
objcopy --strip-debug "$bin" "$root/usr/local/bin/escrow" 2>/dev/null || cp "$bin" "$root/usr/local/bin/escrow"
# Every library the binary links, at the path the loader looks for it.
ldd "$bin" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
printf 'escrow:x:65532:65532:escrow:/data:/nonexistent\n' > "$root/etc/passwd"
printf 'escrow:x:65532:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
cp "$here/Dockerfile" "$ctx/Dockerfile"
docker build --quiet -t "$tag" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; exit 1; }
echo "built $tag ($(du -sh "$root" | cut -f1) of files)"
