#!/bin/sh
# Checks the units with `systemd-analyze verify` (run by .ci/run when it is installed):
# each template as an instance, with ExecStart pointed at BINARY (verify also checks that
# the command exists). Any output — an unknown key, a bad value — is a failure.
#
#   deploy/systemd/verify.sh BINARY
set -eu
bin=$(cd "$(dirname "${1:?usage: verify.sh BINARY}")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for unit in "$here"/*.service; do
    sed "s|/usr/local/bin/escrow|$bin|" "$unit" > "$tmp/$(basename "$unit")"
done
cd "$tmp"
out=$(systemd-analyze verify ./escrow-trustee@trustee-0.service ./escrow-witness@w1.service ./escrow-relay.service 2>&1) || {
    echo "$out" >&2
    exit 1
}
if [ -n "$out" ]; then
    echo "$out" >&2
    exit 1
fi
echo "systemd-analyze verify: escrow-trustee@.service, escrow-witness@.service, escrow-relay.service clean"
