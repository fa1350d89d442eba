#!/bin/sh
# Container smoke test (run by .ci/run when Docker is there): builds the image, starts
# one dealt trustee in it as the image is meant to run (uid 65532, read-only root, the
# data on a volume, secrets mounted read-only), waits for Docker's health check to say
# healthy, probes it from a second container over the container network, and checks
# the user and read-only root. Exits non-zero, with the container's log, on any failure.
#
#   deploy/image/smoke.sh BINARY
set -eu
bin=${1:?usage: smoke.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
tag=${ESCROW_SMOKE_IMAGE:-escrow:smoke}
name=escrow-smoke-$$
net=$name-net
work=$(mktemp -d)
cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker volume rm "$name-data" >/dev/null 2>&1 || true
    docker network rm "$net" >/dev/null 2>&1 || true
    docker image rm -f "$tag" >/dev/null 2>&1 || true
    rm -rf "$work"
}
# dash runs no EXIT trap when a signal ends the script: turn each into an exit.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
fail() { echo "smoke: FAIL: $*" >&2; docker logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }

"$here/build.sh" "$tag" "$bin"
export ESCROW_PASSPHRASE=smoke-test-passphrase
"$bin" pki init "$work/pki" --trustees 1 --insecure-fast-kdf >/dev/null
"$bin" keygen --trustees 1 --threshold 0 --epoch 1 --out "$work/keys" --insecure-fast-kdf >/dev/null
"$bin" court keygen --court high-court --out "$work/courts" --insecure-fast-kdf >/dev/null
s="$work/secrets"
mkdir -p "$s"
cp "$work/pki/federation.toml" "$work/pki/trustee-0.pem" "$work/pki/trustee-0.key" \
   "$work/pki/trustee-0.signing.key" "$work/keys/epoch-1.pub" "$work/keys/trustee-0.share" "$s/"
cp "$work/pki/trustee-0.profile.toml" "$s/profile.toml"
"$bin" trustee policy --id trustee-0 --court "$work/courts/high-court.pub" --max-window-secs 604800 \
    --max-fields-per-warrant 1000 --out "$s/policy.toml" >/dev/null
user=65532:65532
if [ "$(id -u)" = 0 ]; then chown -R 65532:65532 "$s"; else user=$(id -u):$(id -g); fi

docker network create "$net" >/dev/null
docker run -d --name "$name" --network "$net" --network-alias trustee-0 --user "$user" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
    -v "$name-data:/data" -v "$s:/secrets:ro" -e ESCROW_PASSPHRASE \
    "$tag" --profile /secrets/profile.toml trustee serve --data-dir /data --policy /secrets/policy.toml \
    --epoch-key /secrets/epoch-1.pub --key-share /secrets/trustee-0.share --listen 0.0.0.0:7000 >/dev/null

i=0
while :; do
    state=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$name")
    case "$state" in
        "running healthy") break ;;
        exited*) fail "the trustee exited: $state" ;;
    esac
    i=$((i + 1))
    [ "$i" -lt 120 ] || fail "not healthy after 60 s: $state"
    sleep 0.5
done
echo "smoke: trustee container healthy (Docker health check: escrow health over TLS, CA only)"
# Another container on the network probes it by its alias, as a peer would.
docker run --rm --network "$net" --read-only --user "$user" -v "$s:/secrets:ro" "$tag" \
    --profile /secrets/profile.toml health --addr trustee-0:7000 --role trustee || fail "probe from the network"
[ "$(docker inspect -f '{{.Config.User}}' "$name")" = "$user" ] || fail "not running as $user"
[ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true ] || fail "root filesystem is writable"
# The image holds the binary, its libraries and nothing to run a shell with.
if docker run --rm --entrypoint /bin/sh "$tag" -c true >/dev/null 2>&1; then fail "the image has a shell"; fi
echo "smoke: ok ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }') image, uid ${user%%:*}, read-only root)"
