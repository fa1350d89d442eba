#!/bin/sh
# Makes a deployment's state with BINARY (CA and every party's certificate, dealt epoch
# keys, a court, witness keys, trustee log keys, the witness policy, one secrets and one
# data directory per party), builds the image from BINARY, and brings the Compose
# deployment up under project NAME until every service is healthy.
#
#   deploy/compose/up.sh BINARY STATE [NAME]      (NAME defaults to escrow)
#   ESCROW_STATE=STATE docker-compose -p NAME -f deploy/compose/docker-compose.yml ...
#
# The passphrase of every sealed file is written to STATE/passphrase (and, per party, to
# its secrets directory as the file it reads with --passphrase-file).
set -eu
bin=$(cd "$(dirname "${1:?usage: up.sh BINARY STATE [NAME]}")" && pwd)/$(basename "$1")
state=${2:?usage: up.sh BINARY STATE [NAME]}
name=${3:-escrow}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$state"
state=$(cd "$state" && pwd)
[ ! -e "$state/pki" ] || { echo "up.sh: $state already holds a deployment" >&2; exit 1; }

pass=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$pass" > "$state/passphrase"
export ESCROW_PASSPHRASE="$pass"
fast=--insecure-fast-kdf
trustees="trustee-0 trustee-1 trustee-2 trustee-3 trustee-4"
witnesses="w1 w2 w3"

"$bin" pki init "$state/pki" --trustees 5 --witness w1 --witness w2 --witness w3 \
    --agency agency-1 --auditor auditor-1 --user alice --user bob $fast >/dev/null
"$bin" keygen --trustees 5 --threshold 2 --epoch 1 --out "$state/keys" $fast >/dev/null 2>&1
"$bin" court keygen --court high-court --out "$state/courts" $fast >/dev/null

# Keys known before anything starts: each witness's, each trustee's log key.
policy="$state/witness.policy"
logs="$state/logs.toml"
: > "$logs"
printf '# The deployment witness policy (C2SP tlog-policy)\n' > "$policy"
for t in $trustees; do
    mkdir -p "$state/data/$t"
    "$bin" trustee log-key --data-dir "$state/data/$t" --id "$t" $fast >> "$policy"
    "$bin" trustee log-key --data-dir "$state/data/$t" --id "$t" --witness-config $fast >> "$logs"
done
for w in $witnesses; do
    mkdir -p "$state/data/$w"
    vkey=$("$bin" witness init --data-dir "$state/data/$w" --name "witness.escrow.example/$w" $fast)
    printf 'witness %s %s https://%s:7400\n' "$w" "$vkey" "$w" >> "$policy"
done
printf 'group witnesses 2 w1 w2 w3\nquorum witnesses\n' >> "$policy"

court=$(cat "$state/courts/high-court.pub")
secrets() { # party files...: a secrets directory with the federation (CAs and pins) and the passphrase
    d="$state/secrets/$1"
    shift
    mkdir -p "$d"
    cp "$state/pki/federation.toml" "$d/"
    printf '%s\n' "$pass" > "$d/passphrase"
    for f in "$@"; do cp "$f" "$d/"; done
}
for t in $trustees; do
    secrets "$t" "$state/pki/$t.pem" "$state/pki/$t.key" "$state/pki/$t.signing.key" \
        "$state/keys/epoch-1.pub" "$state/keys/$t.share" "$policy"
    cp "$state/pki/$t.profile.toml" "$state/secrets/$t/profile.toml"
    cat > "$state/secrets/$t/policy.toml" <<POLICY
trustee_id = "$t"
approval = "operator"
trusted_courts = ["$court"]
max_window_secs = 604800
max_fields_per_warrant = 1000

[agency_quota]
agency-1 = 1000
POLICY
done
secrets relay "$state/pki/relay.pem" "$state/pki/relay.key" "$state/keys/epoch-1.pub" "$state/courts/high-court.pub"
cp "$state/pki/relay.profile.toml" "$state/secrets/relay/profile.toml"
mv "$state/secrets/relay/high-court.pub" "$state/secrets/relay/court.pub"
for w in $witnesses; do
    secrets "$w" "$state/pki/witness-$w.pem" "$state/pki/witness-$w.key" "$logs"
    cp "$state/pki/witness-$w.profile.toml" "$state/secrets/$w/profile.toml"
done
# The clients: agency, auditor, operators, users, with every profile and the policy.
mkdir -p "$state/secrets/tools" "$state/data/tools" "$state/data/relay"
cp "$state/pki/"*.pem "$state/pki/"*.key "$state/pki/"*.profile.toml "$state/pki/federation.toml" \
   "$policy" "$state/keys/epoch-1.pub" "$state/courts/high-court.pub" "$state/secrets/tools/"
printf '%s\n' "$pass" > "$state/secrets/tools/passphrase"
if [ "$(id -u)" = 0 ]; then
    chown -R 65532:65532 "$state/data" "$state/secrets"
fi

"$here/../image/build.sh" "${ESCROW_IMAGE:-escrow:dev}" "$bin" >/dev/null
export ESCROW_STATE="$state"
docker-compose -p "$name" -f "$here/docker-compose.yml" up -d --quiet-pull 2>&1 | grep -v "^Creating\|^Starting" || true
services=$(docker-compose -p "$name" -f "$here/docker-compose.yml" ps -q)
i=0
while :; do
    unhealthy=0
    for c in $services; do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] || unhealthy=$((unhealthy + 1))
    done
    [ "$unhealthy" -eq 0 ] && break
    i=$((i + 1))
    if [ "$i" -ge 120 ]; then
        docker-compose -p "$name" -f "$here/docker-compose.yml" ps >&2
        echo "up.sh: $unhealthy services not healthy after 60 s" >&2
        exit 1
    fi
    sleep 0.5
done
echo "up.sh: $(echo "$services" | wc -w) services healthy (project $name, state $state)"
