#!/bin/sh
# The Compose deployment, brought up and checked from outside as its users would:
# every service healthy; from the tools container (the agency's and auditor's side)
# every trustee serving and its log witnessed by the three witnesses; the trust
# boundary held by the networks (the relay's network cannot reach a trustee, the
# clients' network can). Then everything is torn down. Prints a transcript; exits
# non-zero on any unexpected outcome.
#
#   deploy/compose/cluster-test.sh BINARY
set -eu
bin=${1:?usage: cluster-test.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
name=escrow-ct-$$
state=$(mktemp -d)
compose() { ESCROW_STATE="$state" docker-compose -p "$name" -f "$here/docker-compose.yml" "$@"; }
cleanup() {
    compose --profile tools down -v >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap cleanup EXIT
fail() { echo "cluster: FAIL: $*" >&2; compose logs --tail 20 >&2 2>&1 || true; exit 1; }
step() { echo "cluster: $*"; }

t0=$(date +%s)
"$here/up.sh" "$bin" "$state" "$name" || fail "the deployment did not come up"
step "up: 5 trustees, relay, 3 witnesses healthy in $(( $(date +%s) - t0 )) s"

trustees="--trustee trustee-0:7000 --trustee trustee-1:7000 --trustee trustee-2:7000 --trustee trustee-3:7000 --trustee trustee-4:7000"
tools() { compose run --rm -T tools --passphrase-file /secrets/passphrase "$@"; }
i=0
while :; do
    # shellcheck disable=SC2086
    out=$(tools --profile /secrets/auditor-1.profile.toml status $trustees --witness-policy /secrets/witness.policy 2>&1) || true
    serving=$(printf '%s\n' "$out" | grep -c "SERVING" || true)
    lagging=$(printf '%s\n' "$out" | grep "SERVING" | grep -vc "(0) .*(0) .*(0)" || true)
    [ "$serving" -eq 5 ] && [ "$lagging" -eq 0 ] && break
    i=$((i + 1))
    [ "$i" -lt 30 ] || fail "not every log witnessed: $out"
    sleep 1
done
printf '%s\n' "$out"
step "status from the tools container: 5 trustees serving, every witness at lag 0"

# The relay's network has no route to any trustee; the clients' network has.
if docker run --rm --network "${name}_public" --read-only -v "$state/secrets/tools:/secrets:ro" \
    "${ESCROW_IMAGE:-escrow:dev}" --ca /secrets/ca.pem health --addr trustee-0:7000 --role trustee >/dev/null 2>&1; then
    fail "a trustee is reachable from the relay's network"
fi
docker run --rm --network "${name}_access" --read-only -v "$state/secrets/tools:/secrets:ro" \
    "${ESCROW_IMAGE:-escrow:dev}" --ca /secrets/ca.pem health --addr trustee-0:7000 --role trustee >/dev/null \
    || fail "trustee-0 unreachable from the clients' network"
step "boundary: trustee-0 unreachable from the relay's network, reachable from the clients'"

# Every log verifies under the policy's pinned keys, against the witnesses' views.
# shellcheck disable=SC2086
audit=$(tools --profile /secrets/auditor-1.profile.toml audit verify $trustees --witness-policy /secrets/witness.policy \
    --state-dir /data/audit 2>&1) || fail "audit: $audit"
[ "$(printf '%s\n' "$audit" | grep -c '^OK ')" -eq 5 ] || fail "audit: $audit"
step "audit: 5 logs verified, each consistent with the 3 witnesses' views"
step "ok in $(( $(date +%s) - t0 )) s"
