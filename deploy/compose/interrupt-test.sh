#!/bin/sh
# cluster-test.sh cleans up whatever ends it. Started, and sent SIGTERM once its
# deployment is up (the moment a stuck run is most often killed), it must exit with
# 143 and leave no container, network or volume of its Compose project, and no
# temporary directory: its state dir held the passphrases and every private key.
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
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 143 ] || fail "cluster-test.sh exited $status on SIGTERM, not 143"
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"; \
    docker ps -aq --filter "label=escrow.compose=$project")
[ -z "$left" ] || fail "containers left: $left"
nets=$(docker network ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$nets" ] || fail "networks left: $nets"
vols=$(docker volume ls -q --filter "label=escrow.compose=$project"; docker volume ls -q --filter "name=$project")
[ -z "$vols" ] || fail "volumes left: $vols"
[ "$(temps)" = "$before" ] || fail "temporary directories left: $(temps)"
echo "interrupt: SIGTERM once up ($running containers running): exit 143; no container, network, volume or temp dir of $project left"
