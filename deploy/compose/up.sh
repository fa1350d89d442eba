#!/bin/sh
# Brings a deployment of twelve organisations up under Compose project NAME, each
# organisation's secrets made inside a container that holds its own volume and nothing
# else, then starts every service and runs the first key ceremony.
#
#   deploy/compose/up.sh BINARY STATE [NAME]      (NAME defaults to escrow)
#   ESCROW_PROJECT=NAME docker-compose -p NAME -f deploy/compose/docker-compose.yml ...
#
# 1. builds the image from BINARY (deploy/image/build.sh);
# 2. per organisation: a volume NAME-ORG with a random passphrase of its own, then, in
#    containers with only that volume (`escrow` commands, no network): its CA (`org
#    init`), its parties (`org issue`), its trustee's log key, its witness's key, its
#    court's key, each pinned in its entry;
# 3. on the host, from public files only (STATE/public): the federation from every
#    entry (`federation add`), the witness policy, the witnesses' logs config, each
#    trustee's policy; each copied into the volumes that need it;
# 4. starts the witnesses and the trustees (no epoch key), runs the key ceremony for
#    epoch 1 from the five operators' volumes, takes the announcement (an auditor's
#    `epoch fetch`) to the provider's volume, and starts the relay on it.
#
# Nothing secret is written under STATE: each passphrase passes through a file there
# only until it is copied into its volume. Docker keeps the volumes: remove them with
# `docker volume rm` (`docker-compose down -v` does not remove external volumes).
# shellcheck source-path=SCRIPTDIR
set -eu
# lib.sh's `phase` reads `dkg status --json` with jq.
command -v jq >/dev/null 2>&1 || { echo "up.sh: jq is required (it reads the CLI's --json output)" >&2; exit 2; }
bin=$(cd "$(dirname "${1:?usage: up.sh BINARY STATE [NAME]}")" && pwd)/$(basename "$1")
state=${2:?usage: up.sh BINARY STATE [NAME]}
name=${3:-escrow}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
mkdir -p "$state"
state=$(cd "$state" && pwd)
pub="$state/public"
[ ! -e "$pub" ] || { echo "up.sh: $state already holds a deployment" >&2; exit 1; }
for org in $orgs; do
    if docker volume inspect "$(vol "$org")" >/dev/null 2>&1; then
        echo "up.sh: the volume $(vol "$org") exists: project $name already has a deployment" >&2
        exit 1
    fi
done
mkdir -p "$pub/entries"
fast=--insecure-fast-kdf
trustees="trustee-0 trustee-1 trustee-2 trustee-3 trustee-4"
witnesses="w1 w2 w3"

"$here/../image/build.sh" "$image" "$bin" >/dev/null

# Each organisation's volume and passphrase (the file its services read: mode 0444,
# owned by root in the volume, which only that organisation's containers mount, all as
# 65532). On the host it lives in a directory only its owner can enter, and only
# until it is copied.
secret=$(mktemp -d "$state/.passphrase.XXXXXX")
trap 'rm -rf "$secret"' EXIT
for org in $orgs; do
    docker volume create --label "$label" "$(vol "$org")" >/dev/null
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$secret/passphrase"
    echo >> "$secret/passphrase"
    chmod 0444 "$secret/passphrase"
    put "$org" "$secret/passphrase" passphrase
    rm -f "$secret/passphrase"
done
rmdir "$secret"

# org_init ORG ARGS...: ORG's CA and entry; its fingerprint goes to STATE/public/fingerprints.
org_init() {
    o=$1
    shift
    out=$(in_org "$o" org init /data/org --name "$o" --deployment "$name" "$@" $fast)
    printf '%s\n' "$out" | sed -n 's/^organisation \([^:]*\): CA /\1 /p' >> "$pub/fingerprints"
}
issue() { o=$1; shift; in_org "$o" org issue /data/org "$@" $fast >/dev/null; }

policy="$pub/witness.policy"
logs="$pub/logs.toml"
printf '# The deployment witness policy (C2SP tlog-policy)\n' > "$policy"
: > "$logs"
for t in $trustees; do
    org="org-$t"
    org_init "$org" --certifies "trustee/$t" --certifies "operator/$t/*"
    issue "$org" --role trustee --id "$t"
    issue "$org" --role operator --id "op-${t#trustee-}" --trustee "$t"
    in_org "$org" trustee log-key --data-dir /data/state --id "$t" $fast >> "$policy"
    in_org "$org" trustee log-key --data-dir /data/state --id "$t" --witness-config $fast >> "$logs"
done
for w in $witnesses; do
    org="org-$w"
    org_init "$org" --certifies "witness/$w"
    issue "$org" --role witness --id "$w"
    vkey=$(in_org "$org" witness init --data-dir /data/state --name "witness.escrow.example/$w" $fast)
    in_org "$org" org pin /data/org --witness-vkey "$vkey" $fast >/dev/null
    printf 'witness %s %s https://%s:7400\n' "$w" "$vkey" "$w" >> "$policy"
done
printf 'group witnesses 2 w1 w2 w3\nquorum witnesses\n' >> "$policy"
# The provider runs the relay; its users' certificates are its to issue. (Each user
# holds its own key in a real deployment; here the provider's volume plays alice and bob.)
org_init provider --certifies 'relay/*' --certifies 'user/*'
issue provider --role relay --id relay
issue provider --role user --id alice
issue provider --role user --id bob
org_init org-agency-1 --certifies agency/agency-1
issue org-agency-1 --role agency --id agency-1
org_init auditors --certifies 'auditor/*'
issue auditors --role auditor --id auditor-1
# The court certifies nobody; its entry pins its warrant key.
org_init court
in_org court court keygen --court high-court --out /data/courts $fast >/dev/null
in_org court org pin /data/org --court-key /data/courts/high-court.pub $fast >/dev/null
get court courts/high-court.pub "$pub/high-court.pub"

# The federation, combined on the host from the entries (public), and the policies.
for org in $orgs; do get "$org" org/entry.toml "$pub/entries/$org.toml"; done
entries=""
for org in $orgs; do entries="$entries $pub/entries/$org.toml"; done
# shellcheck disable=SC2086
"$bin" federation add "$pub/federation.toml" $entries >/dev/null
"$bin" federation verify "$pub/federation.toml" >/dev/null
for t in $trustees; do
    "$bin" trustee policy --id "$t" --court "$pub/high-court.pub" --max-window-secs 604800 \
        --max-fields-per-warrant 1000 --agency-quota agency-1=1000 --out "$pub/policy-$t.toml" >/dev/null
done
chmod -R a+rX "$pub"
fed="$pub/federation.toml"
for t in $trustees; do
    put "org-$t" "$fed" org/federation.toml "$pub/policy-$t.toml" policy.toml "$policy" witness.policy
done
for w in $witnesses; do put "org-$w" "$fed" org/federation.toml "$logs" logs.toml; done
put provider "$fed" org/federation.toml "$pub/high-court.pub" court.pub
put org-agency-1 "$fed" org/federation.toml "$policy" witness.policy
put auditors "$fed" org/federation.toml "$policy" witness.policy
put court "$fed" org/federation.toml

# The witnesses and the trustees, with no epoch key yet.
# shellcheck disable=SC2086
compose up -d --quiet-pull $witnesses $trustees 2>&1 | grep -v "^Creating\|^Starting" || true
# shellcheck disable=SC2086
healthy $witnesses $trustees || { echo "up.sh: the trustees and witnesses did not come up" >&2; exit 1; }

# Epoch 1 by a key ceremony: op-0 proposes, every operator accepts at its own trustee
# (each from its own organisation's volume), op-0 executes and waits for all five.
# shellcheck disable=SC2086
as_op 0 dkg propose --trustee trustee-0:7000 --epoch 1 --threshold 2 \
    --destroy-at $(( $(date +%s) + 30 * 86400 )) $players >/dev/null
for i in 1 2 3 4; do
    n=0
    until [ "$(phase "$i")" = proposed ]; do
        n=$((n + 1))
        [ "$n" -lt 60 ] || { echo "up.sh: trustee-$i never saw the proposal for epoch 1" >&2; exit 1; }
        sleep 0.5
    done
    as_op "$i" dkg accept --trustee "trustee-$i:7000" >/dev/null
done
n=0
until [ "$(phase 0)" = ready ]; do
    n=$((n + 1))
    [ "$n" -lt 60 ] || { echo "up.sh: the ceremony for epoch 1 never became ready" >&2; exit 1; }
    sleep 0.5
done
out=$(as_op 0 dkg execute --trustee trustee-0:7000 --wait 2>&1) || { echo "up.sh: epoch 1: $out" >&2; exit 1; }
printf '%s\n' "$out" | grep -q "every participant installed announcement" || { echo "up.sh: epoch 1: $out" >&2; exit 1; }

# The announcement is public: an auditor fetches it, the host carries it to the provider.
tools auditors --profile /data/org/auditor-1.profile.toml epoch fetch --trustee trustee-0:7000 --epoch 1 \
    --out /data/epoch-1.announcement >/dev/null
get auditors epoch-1.announcement "$pub/epoch-1.announcement"
put provider "$pub/epoch-1.announcement" epoch-1.announcement
compose up -d relay 2>&1 | grep -v "^Creating\|^Starting" || true
healthy relay || { echo "up.sh: the relay did not come up" >&2; exit 1; }
echo "up.sh: $(echo "$orgs" | wc -w) organisations, each in its own volume $name-ORG; epoch 1 from a key ceremony;" \
    "9 services healthy (project $name, public files in $pub)"
