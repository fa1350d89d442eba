#!/bin/sh
# The Docker test scripts clean up whatever ends them. Each is started and sent SIGTERM
# at the moment a stuck run is most often killed, and must exit with 143 and leave
# nothing of its own behind:
#   - deploy/image/smoke.sh, once its trustee container runs: no container, volume,
#     network or image of its, and no temporary directory (it held the sealed keys);
#   - cluster-test.sh, once its deployment is up: no container, network or volume of
#     its Compose project, and no temporary directory (its state dir held the
#     passphrases and every private key).
#
#   deploy/compose/interrupt-test.sh BINARY
# shellcheck source-path=SCRIPTDIR
set -eu
bin=${1:?usage: interrupt-test.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
tmp=${TMPDIR:-/tmp}
log=$(mktemp "$tmp/escrow-interrupt.XXXXXX")
trap 'rm -f "$log"' EXIT
fail() { echo "interrupt: FAIL: $*" >&2; tail -20 "$log" >&2; exit 1; }
temps() { find "$tmp" -maxdepth 1 -name 'tmp.*' -type d 2>/dev/null | sort; }
# terminate PID: SIGTERM, then its exit status must be 143.
terminate() {
    kill -TERM "$1"
    status=0
    wait "$1" || status=$?
    [ "$status" -eq 143 ] || fail "exited $status on SIGTERM, not 143"
}

# smoke.sh, with an image tag of this test's own.
before=$(temps)
tag="escrow:interrupt-$$"
ESCROW_SMOKE_IMAGE=$tag "$here/../image/smoke.sh" "$bin" >"$log" 2>&1 &
pid=$!
# Docker's name filter is a regular expression; the container may be named with a /.
container="^/?escrow-smoke-$pid\$"
i=0
until [ -n "$(docker ps -q --filter "name=$container")" ]; do
    kill -0 "$pid" 2>/dev/null || fail "smoke.sh ended before its container ran"
    i=$((i + 1)); [ "$i" -lt 1200 ] || { kill -TERM "$pid"; fail "smoke.sh's container not running in 300 s"; }
    sleep 0.25
done
[ "$(temps)" != "$before" ] || fail "smoke.sh made no temp dir: the check below would prove nothing"
[ -n "$(docker image ls -q "$tag")" ] || fail "no image $tag: the check below would prove nothing"
terminate "$pid"
left=$(docker ps -aq --filter "name=$container"; docker volume ls -q --filter "name=^escrow-smoke-$pid-data\$"; \
    docker network ls -q --filter "name=^escrow-smoke-$pid-net\$"; docker image ls -q "$tag")
[ -z "$left" ] || fail "smoke.sh left containers, volumes, networks or images: $left"
[ "$(temps)" = "$before" ] || fail "smoke.sh left temporary directories: $(temps)"
echo "interrupt: smoke.sh, SIGTERM once its trustee container ran: exit 143; no container, volume, network, image or temp dir left"

# cluster-test.sh.
before=$(temps)
"$here/cluster-test.sh" "$bin" >"$log" 2>&1 &
pid=$!
project="escrow-ct-$pid"
i=0
until grep -q '^cluster: up:' "$log"; do
    kill -0 "$pid" 2>/dev/null || fail "cluster-test.sh ended before its deployment was up"
    i=$((i + 1)); [ "$i" -lt 600 ] || { kill -TERM "$pid"; fail "the deployment not up in 300 s"; }
    sleep 0.5
done
during=$(temps)
[ "$during" != "$before" ] || fail "no state dir appeared: the check below would prove nothing"
running=$(docker ps -q --filter "label=com.docker.compose.project=$project" | wc -l)
[ "$running" -gt 0 ] || fail "no container of $project running: the check below would prove nothing"
terminate "$pid"
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"; \
    docker ps -aq --filter "label=escrow.compose=$project")
[ -z "$left" ] || fail "containers left: $left"
nets=$(docker network ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$nets" ] || fail "networks left: $nets"
vols=$(docker volume ls -q --filter "label=escrow.compose=$project"; docker volume ls -q --filter "name=$project")
[ -z "$vols" ] || fail "volumes left: $vols"
[ "$(temps)" = "$before" ] || fail "temporary directories left: $(temps)"
echo "interrupt: cluster-test.sh, SIGTERM once up ($running containers running): exit 143; no container, network, volume or temp dir of $project left"
