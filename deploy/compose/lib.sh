# Sourced by up.sh and cluster-test.sh, which set $name (the Compose project) and $here
# (this directory). Every organisation of the deployment has one Docker volume of its
# own, NAME-ORG, mounted at /data in each container that acts for it and in no other:
# its CA, its parties' certificates and sealed keys, its passphrase, its data.
# shellcheck shell=sh disable=SC2034,SC2154
image=${ESCROW_IMAGE:-escrow:dev}
label="escrow.compose=$name"
orgs="org-trustee-0 org-trustee-1 org-trustee-2 org-trustee-3 org-trustee-4 provider org-agency-1 auditors org-w1 org-w2 org-w3 court"
vol() { printf '%s-%s' "$name" "$1"; }

compose() { ESCROW_PROJECT="$name" timeout 300 docker-compose -p "$name" -f "$here/docker-compose.yml" "$@"; }

# in_org ORG ARGS...: one escrow command of ORG's, in a container of its own with ORG's
# volume and nothing else: no network, read-only root, no capabilities.
in_org() {
    org=$1
    shift
    timeout 120 docker run --rm --network none --read-only --tmpfs /tmp --cap-drop ALL \
        --security-opt no-new-privileges --label "$label" -v "$(vol "$org"):/data" "$image" \
        --passphrase-file /data/passphrase "$@"
}

# tools ORG ARGS...: an escrow client of ORG's (agency, auditor, operator, user) in the
# Compose `tools` service, on the clients' networks, with ORG's volume at /data.
tools() {
    org=$1
    shift
    compose run --rm -T -v "$(vol "$org"):/data" tools --passphrase-file /data/passphrase "$@"
}

# A container never started, with only ORG's volume: docker cp's handle on that volume.
files() { timeout 60 docker create --network none --label "$label" -v "$(vol "$1"):/data" "$image"; }
# put ORG FILE PATH [FILE PATH ...]: files into ORG's volume. They arrive owned by root
# with their mode on the host: the service user (65532) reads them and cannot change
# them. (`docker cp -a` cannot give them to 65532: Docker looks the user up on the host.)
put() {
    c=$(files "$1")
    shift
    rc=0
    while [ "$#" -ge 2 ]; do
        timeout 60 docker cp "$1" "$c:/data/$2" || { rc=$?; break; }
        shift 2
    done
    docker rm "$c" >/dev/null
    return "$rc"
}
# get ORG PATH FILE: a public file out of ORG's volume.
get() {
    c=$(files "$1")
    rc=0
    timeout 60 docker cp "$c:/data/$2" "$3" || rc=$?
    docker rm "$c" >/dev/null
    return "$rc"
}

# The operator op-I of trustee-I, from its organisation's volume.
as_op() { i=$1; shift; tools "org-trustee-$i" --profile "/data/org/trustee-$i.op-$i.profile.toml" "$@"; }
# The latest key ceremony's phase at trustee-I, as its operator sees it (needs jq).
phase() { as_op "$1" dkg status --trustee "trustee-$1:7000" --json 2>/dev/null | jq -r '.phase // empty' 2>/dev/null; }
players=""
for i in 0 1 2 3 4; do players="$players --player trustee-$i=trustee-$i:7000"; done

# cid SERVICE: its container (asked of Docker, not of docker-compose: much faster).
cid() {
    docker ps -aq --filter "label=com.docker.compose.project=$name" --filter "label=com.docker.compose.service=$1" \
        --filter label=com.docker.compose.oneoff=False
}
# pause SERVICE: docker pause, retried for 5 s: under cgroup v1 the freezer can fail
# with "unable to freeze" while the container's processes are busy.
pause() {
    n=0
    until out=$(docker pause "$(cid "$1")" 2>&1); do
        n=$((n + 1))
        [ "$n" -lt 5 ] || { echo "docker pause $1: $out" >&2; return 1; }
        sleep 1
    done
}
# healthy SERVICE...: waits until Docker says each is healthy (60 s at most).
healthy() {
    n=0
    while :; do
        unhealthy=""
        for s in "$@"; do
            c=$(cid "$s")
            [ -n "$c" ] && [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] || unhealthy="$unhealthy $s"
        done
        [ -z "$unhealthy" ] && return 0
        n=$((n + 1))
        if [ "$n" -ge 120 ]; then
            compose ps >&2
            echo "not healthy after 60 s:$unhealthy" >&2
            return 1
        fi
        sleep 0.5
    done
}
