#!/bin/sh
# The Compose deployment, brought up and checked from outside as its users would:
# every service healthy; from the tools container (the agency's and auditor's side)
# every trustee serving and its log witnessed by the three witnesses; the trust
# boundary held by the networks (the relay's network cannot reach a trustee, the
# clients' network can); a warrant flow, faults, key ceremonies; and each
# organisation's secrets only in its own volume. Then everything is torn down, the
# organisations' volumes too. Prints a transcript; exits non-zero on any unexpected
# outcome. It reads what the escrow CLI reports from its --json output, with jq.
#
#   deploy/compose/cluster-test.sh BINARY
# shellcheck source-path=SCRIPTDIR
set -eu
command -v jq >/dev/null 2>&1 || { echo "cluster-test.sh: jq is required (it reads the CLI's --json output)" >&2; exit 2; }
bin=${1:?usage: cluster-test.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
name=escrow-ct-$$
state=$(mktemp -d)
pub="$state/public"
# shellcheck source=lib.sh
. "$here/lib.sh"
cleanup() {
    compose --profile tools down -v >/dev/null 2>&1 || true
    # Containers left by an interrupted step, then the organisations' volumes (external
    # to Compose: `down -v` keeps them).
    docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker volume ls -q --filter "label=$label" | xargs -r docker volume rm >/dev/null 2>&1 || true
    rm -rf "$state"
}
# dash runs no EXIT trap when a signal ends the script: turn each into an exit.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
fail() { echo "cluster: FAIL: $*" >&2; compose logs --tail 20 >&2 2>&1 || true; exit 1; }
step() { echo "cluster: $*"; }

t0=$(date +%s)
"$here/up.sh" "$bin" "$state" "$name" || fail "the deployment did not come up"
step "up: 12 organisations, epoch 1 from a key ceremony; 5 trustees, relay, 3 witnesses healthy in $(( $(date +%s) - t0 )) s"

trustees="--trustee trustee-0:7000 --trustee trustee-1:7000 --trustee trustee-2:7000 --trustee trustee-3:7000 --trustee trustee-4:7000"
as_auditor() { tools auditors --profile /data/org/auditor-1.profile.toml "$@"; }
as_agency() { tools org-agency-1 --profile /data/org/agency-1.profile.toml "$@"; }
# The users' keys and certificates are in the provider's volume (each user holds its
# own in a real deployment).
as_user() { u=$1; shift; tools provider --profile "/data/org/user-$u.profile.toml" "$@"; }
# A command's JSON is its stdout alone; its stderr (and compose's notes) goes to a file
# of its own, for the failure messages: errs NAME prints the file's last lines.
err() { echo "$state/$1.err"; }
errs() { tail -5 "$(err "$1")" 2>/dev/null || true; }
# `status --json`, whatever its exit (1 when a trustee is down, after the JSON).
status_json() {
    # shellcheck disable=SC2086
    as_auditor status $trustees --witness-policy /data/witness.policy --json 2>"$(err status)" || true
}
i=0
while :; do
    out=$(status_json)
    # Five trustees serving, each with all three witnesses at lag 0.
    printf '%s\n' "$out" | jq -e '[.trustees[] | select(.health == "SERVING"
        and ([.witnesses[] | select(.lag == 0)] | length) == 3)] | length == 5' >/dev/null 2>&1 && break
    i=$((i + 1))
    [ "$i" -lt 30 ] || fail "not every log witnessed: $out $(errs status)"
    sleep 1
done
printf '%s\n' "$out" | jq -r '.trustees[] | "  status: \(.trustee) \(.address) \(.health), epochs \(.epochs | map(tostring)
    | join(",")), log size \(.log_size), witnessed \(.witnessed_size), lags \([.witnesses[] | "\(.name) \(.lag)"] | join(", "))"'
step "status from the tools container: 5 trustees serving, every witness at lag 0"

# The relay's network has no route to any trustee; the clients' network has. (The
# probe needs only the federation file: the host's public copy.)
probe() {
    timeout 60 docker run --rm --network "${name}_$1" --read-only -v "$pub/federation.toml:/pub/federation.toml:ro" \
        "$image" --federation /pub/federation.toml health --addr trustee-0:7000 --role trustee
}
if probe public >/dev/null 2>&1; then
    fail "a trustee is reachable from the relay's network"
fi
probe access >/dev/null || fail "trustee-0 unreachable from the clients' network"
step "boundary: trustee-0 unreachable from the relay's network, reachable from the clients'"

# Every log verifies under the policy's pinned keys, against the witnesses' views.
audit_verify() { # WHAT: the audit, which must pass, its JSON in $audit
    # shellcheck disable=SC2086
    audit=$(as_auditor audit verify $trustees --witness-policy /data/witness.policy --state-dir /data/audit --json \
        2>"$(err audit)") || fail "$1: $audit $(errs audit)"
}
verified_logs() { printf '%s\n' "$audit" | jq '[.trustees[] | select(.ok)] | length'; }
audit_verify audit
[ "$(verified_logs)" -eq 5 ] || fail "audit: $audit"
step "audit: 5 logs verified, each consistent with the 3 witnesses' views"
# A warrant flow across the containers: alice writes to bob through the relay, the
# court signs a warrant for alice, three operators approve, the agency opens. The
# senders and the agency believe epoch 1's key only with its announcement, signed by
# the five trustees whose keys the federation pins (no --epoch-key anywhere).
for u in alice bob; do
    in_org provider user keygen --id "$u" --out "/data/$u.ukey" --insecure-fast-kdf >/dev/null || fail "$u's keygen"
done
for u in alice bob; do as_user "$u" user register --relay relay:7100 --key "/data/$u.ukey" >/dev/null; done
as_user alice user send --relay relay:7100 --key /data/alice.ukey --to bob --message "meet at noon" >/dev/null \
    || fail "alice could not send"
# The court signs offline, in its own container (no network); the warrant (public)
# goes from the court's volume to the agency's through the host.
now=$(date +%s)
signed=$(in_org court court sign --key /data/courts/high-court.key --agency agency-1 --target alice --from $((now - 3600)) \
    --to $((now + 60)) --valid-days 2 --case "R v. A (cluster)" --basis "demo" --out /data/warrant.hex --json) \
    || fail "court sign: $signed"
wid=$(printf '%s\n' "$signed" | jq -r '.warrant_id // empty')
get court warrant.hex "$pub/warrant.hex" || fail "no warrant out of the court's volume"
put org-agency-1 "$pub/warrant.hex" w.hex || fail "the warrant did not reach the agency"
# shellcheck disable=SC2086
submitted=$(as_agency warrant submit $trustees --warrant /data/w.hex 2>&1) || fail "submit: $submitted"
[ -n "$wid" ] || fail "no warrant id in: $signed"
for i in 0 1 2; do
    as_op "$i" warrant approve --trustee "trustee-$i:7000" --id "$wid" --reason "lawful and proportionate" >/dev/null \
        || fail "op-$i could not approve"
done
open_warrant() {
    # shellcheck disable=SC2086
    as_agency open --relay relay:7100 $trustees --warrant /data/w.hex --out /data/opened \
        --witness-policy /data/witness.policy --json 2>"$(err open)"
}
out=$(open_warrant) || fail "open: $out $(errs open)"
[ "$(printf '%s\n' "$out" | jq '.opened.count')" -ge 1 ] || fail "nothing opened: $out"
step "warrant $wid approved at 3 trustees: the agency opened alice's message (witnessed approvals checked)"

# Prometheus metrics, scraped on the monitoring network by the scraper: trustee-0's
# counters must say what just happened there (one approval, one warrant approved, one
# field and one share released, every witness known), and the relay's and a witness's
# pages must answer. The escrow families, buckets left out, go into the transcript.
# The scraper holds no volume, key or passphrase: stdout only (compose's notes go to stderr).
scrape() { compose run --rm -T scraper metrics --addr "$1" --prefix escrow_; }
page=$(scrape trustee-0:9100) || fail "scrape trustee-0: $page"
printf '%s\n' "$page" | grep -v '_bucket' | sed 's/^/  metrics: /'
# A sample's value, by its exact name and labels (no regex: labels hold quotes).
sample() { printf '%s\n' "$page" | awk -v k="$1" '$1 == k { print $2; exit }'; }
for want in 'escrow_warrant_decisions_total{decision="approve"} 1' 'escrow_warrants{state="approved"} 1' \
    'escrow_fields_released 1' 'escrow_shares_released_total 1'; do
    key=${want% *}
    got=$(sample "$key")
    [ "$got" = "${want##* }" ] || fail "trustee-0's $key is '$got', not ${want##* }"
done
lags=$(printf '%s\n' "$page" | grep -c '^escrow_witness_lag_entries{')
[ "$lags" -eq 3 ] || fail "trustee-0 reports lag for $lags witnesses, not 3"
for addr in relay:9100 w1:9100; do
    other=$(scrape "$addr") || fail "scrape $addr: $other"
    [ -n "$other" ] || fail "$addr serves no escrow metrics"
done
step "metrics: trustee-0 counts 1 approval, 1 approved warrant, 1 field and 1 share released, 3 witnesses; relay and w1 answer"

# Faults with the real network: cut trustees off the clients' network.
docker network disconnect "${name}_access" "$(cid trustee-3)"
docker network disconnect "${name}_access" "$(cid trustee-4)"
out=$(open_warrant) || fail "with two trustees cut off: $out $(errs open)"
step "trustee-3 and trustee-4 disconnected: still opens (t + 1 = 3 approving trustees reachable)"
docker network disconnect "${name}_access" "$(cid trustee-2)"
if out=$(open_warrant); then fail "opened with only two approving trustees reachable: $out"; fi
sealed=$(printf '%s\n' "$out" | jq '.not_opened | length' 2>/dev/null) || sealed=0
[ "${sealed:-0}" -gt 0 ] || fail "no clear error: $out $(errs open)"
step "trustee-2 disconnected too: access stops ($sealed in-scope messages could not be opened)"
for t in trustee-2 trustee-3 trustee-4; do
    docker network connect --alias "$t" "${name}_access" "$(cid "$t")"
done
out=$(open_warrant) || fail "after reconnecting: $out $(errs open)"
step "reconnected: opens again"

# A trustee container restarted: its approval and log survive on its volume.
compose restart trustee-1 >/dev/null 2>&1
healthy trustee-1 || fail "trustee-1 not healthy after its restart"
out=$(open_warrant) || fail "after restarting trustee-1: $out $(errs open)"
step "trustee-1 restarted: healthy again, its approval kept, opens"

# The relay killed (SIGKILL) and started again: every acknowledged message survives.
inbox() { as_user bob user inbox --relay relay:7100 --key /data/bob.ukey --json 2>"$(err inbox)"; }
from_alice() { jq '[.messages[] | select(.sender == "alice")] | length'; }
for k in 1 2 3; do
    as_user alice user send --relay relay:7100 --key /data/alice.ukey --to bob --message "acknowledged $k" >/dev/null \
        || fail "send $k"
done
before=$(inbox | from_alice || true)
docker kill "$(cid relay)" >/dev/null
compose up -d relay >/dev/null 2>&1
healthy relay || fail "the relay not healthy after SIGKILL"
after=$(inbox | from_alice || true)
{ [ "$before" -eq 4 ] && [ "$after" -eq "$before" ]; } || fail "inbox had $before messages before the kill, $after after"
step "relay SIGKILLed and restarted: all $after acknowledged messages still in bob's inbox"

# The relay SIGKILLed during a burst: alice sends 400 messages to bob, one after
# another, and the relay is killed once 250 are acknowledged (each after its group
# commit's fsync). After a restart, every acknowledged message must be in bob's inbox.
# The sender prints a JSON line per acknowledged message as it goes; killed mid-run, its
# last line may be half written, so each line is read on its own and one that is not
# JSON is skipped (`fromjson?`), as are stderr's lines of text in the same file.
burst="$state/burst.txt"
as_user alice user send --relay relay:7100 --key /data/alice.ukey --to bob --message burst --repeat 400 --json \
    >"$burst" 2>&1 &
sender=$!
acks() { jq -nR '[inputs | fromjson? | objects | .sent | numbers] | length' "$burst"; }
i=0
until [ "$(acks)" -ge 250 ]; do
    i=$((i + 1)); [ "$i" -lt 1200 ] || fail "the burst did not reach 250 acknowledged sends: $(tail -3 "$burst")"
    kill -0 "$sender" 2>/dev/null || fail "the burst ended early: $(tail -3 "$burst")"
    sleep 0.1
done
docker kill -s KILL "$(cid relay)" >/dev/null
wait "$sender" && fail "the burst of 400 finished before the kill: $(tail -3 "$burst")"
acked=$(acks)
compose up -d relay >/dev/null 2>&1
healthy relay || fail "the relay not healthy after SIGKILL mid-burst"
read_out="$state/inbox.json"
inbox >"$read_out" || fail "bob's inbox after the mid-burst kill: $(errs inbox)"
# Acknowledged sequence numbers with no message from alice reading "burst (k/400)".
missing=$(jq -nR --slurpfile inbox "$read_out" '
    ($inbox[0].messages | map(select(.sender == "alice" and ((.text // "") | startswith("burst ("))))
        | map({key: (.seq | tostring), value: true}) | from_entries) as $stored
    | [inputs | fromjson? | objects | .sent | numbers | select($stored[tostring] | not)] | length' "$burst")
stored=$(jq '[.messages[] | select((.text // "") | startswith("burst ("))] | length' "$read_out")
[ "$missing" -eq 0 ] || fail "$missing of $acked acknowledged messages lost in the mid-burst kill"
step "relay SIGKILLed after $acked of 400 burst sends were acknowledged: all $acked in bob's inbox ($stored stored)"

# A trustee paused (docker pause) in the middle of an agency's open of every message
# alice sent, the burst included: a second warrant, approved at four trustees, opened
# in requests of 20 messages. Once the first request is answered, trustee-2 is paused;
# each later request must go on with the other three approving trustees, every message
# must open, and the open must end well inside the transport's request timeout (120 s).
now=$(date +%s)
signed=$(in_org court court sign --key /data/courts/high-court.key --agency agency-1 --target alice --from $((t0 - 3600)) \
    --to $((now + 60)) --valid-days 2 --case "R v. A (burst)" --basis "demo" --out /data/warrant-2.hex --json) \
    || fail "court sign: $signed"
wid2=$(printf '%s\n' "$signed" | jq -r '.warrant_id // empty')
[ -n "$wid2" ] || fail "no warrant id in: $signed"
get court warrant-2.hex "$pub/warrant-2.hex" || fail "no second warrant out of the court's volume"
put org-agency-1 "$pub/warrant-2.hex" w2.hex || fail "the second warrant did not reach the agency"
# shellcheck disable=SC2086
submitted=$(as_agency warrant submit $trustees --warrant /data/w2.hex 2>&1) || fail "submit: $submitted"
for i in 0 1 2 3; do
    as_op "$i" warrant approve --trustee "trustee-$i:7000" --id "$wid2" --reason "lawful and proportionate" >/dev/null \
        || fail "op-$i could not approve the second warrant"
done
open_burst() { # NAME: the open's JSON into $state/NAME.json, its stderr (a JSON line per request) into NAME.err
    # shellcheck disable=SC2086
    as_agency open --relay relay:7100 $trustees --warrant /data/w2.hex --out /data/opened-2 \
        --witness-policy /data/witness.policy --batch-size 20 --json >"$state/$1.json" 2>"$(err "$1")"
}
# In scope, opened.
counts() { jq -r '"\(.in_scope) \(.opened.count)"' "$state/$1.json" 2>/dev/null || true; }
s0=$(date +%s%N)
open_burst open-whole || fail "the second warrant's open with all five: $(errs open-whole)"
s1=$(date +%s%N)
# shellcheck disable=SC2046
set -- $(counts open-whole)
{ [ "${1:-0}" -ge 200 ] && [ "$1" = "${2:-}" ]; } || fail "open of the burst: in scope/opened '$*': $(errs open-whole)"
inscope=$1
cutoff=$(jq -c '.unreachable' "$state/open-whole.json")
[ "$cutoff" = "[]" ] || fail "a trustee was unreachable with all five up: $cutoff"
p0=$(date +%s%N)
open_burst open-paused &
opener=$!
# The share requests answered so far: the JSON progress lines on stderr (the last one
# may be half written).
done_() { jq -nR '[inputs | fromjson? | objects | .progress | objects | .done | numbers] | max // 0' "$(err open-paused)"; }
i=0
until [ "$(done_)" -ge 20 ]; do
    i=$((i + 1)); [ "$i" -lt 1200 ] || fail "the open never finished its first request: $(errs open-paused)"
    kill -0 "$opener" 2>/dev/null || fail "the open ended before its first request was answered: $(errs open-paused)"
    sleep 0.05
done
pause trustee-2 || fail "trustee-2 could not be paused"
if wait "$opener"; then opened=ok; else opened="exit $?"; fi
p1=$(date +%s%N)
docker unpause "$(cid trustee-2)" >/dev/null
[ "$opened" = ok ] || fail "the open with trustee-2 paused: $opened: $(errs open-paused)"
# shellcheck disable=SC2046
set -- $(counts open-paused)
{ [ "${1:-}" = "$inscope" ] && [ "${2:-}" = "$inscope" ]; } || fail "with trustee-2 paused, in scope/opened '$*'"
requests=$(jq -r '.share_requests as $all | .not_needed[] | select(.trustee == "trustee-2") | "\(.requests) of \($all)"' \
    "$state/open-paused.json")
[ -n "$requests" ] || fail "trustee-2 not named as not needed: $(cat "$state/open-paused.json")"
ms() { echo $(( ($2 - $1) / 1000000 )); }
[ "$(ms "$p0" "$p1")" -lt 120000 ] || fail "the open with trustee-2 paused took $(ms "$p0" "$p1") ms"
healthy trustee-2 || fail "trustee-2 not healthy after its unpause"
step "trustee-2 paused after the first of $(( (inscope + 19) / 20 )) share requests of an open of $inscope messages: all $inscope opened in $(ms "$p0" "$p1") ms (all five up: $(ms "$s0" "$s1") ms); trustee-2 not needed in $requests requests; unpaused, healthy"

# A key ceremony for epoch 2 across the containers, with trustee-2 paused (docker pause:
# its sockets stay open, it neither reads nor ticks) from before the execute until past
# the agreement deadline and the others' asking: all five must end the same way, and
# say so to `dkg status --all`. Then a rerun installs epoch 2 at all five.
no_split() { # `dkg status --all` at trustee-1 must run and find no split install
    survey=$(as_op 1 dkg status --trustee trustee-1:7000 --all --json 2>"$(err survey)") \
        || fail "dkg status --all: $survey $(errs survey)"
    [ "$(printf '%s\n' "$survey" | jq '.split')" = false ] || fail "dkg status --all: $survey"
}
ceremony() { # PHASE_MS: proposes epoch 2, every operator accepts, waits until ready
    # shellcheck disable=SC2086
    as_op 0 dkg propose --trustee trustee-0:7000 --epoch 2 --threshold 2 --destroy-at $(( $(date +%s) + 86400 )) \
        --phase-timeout-ms "$1" $players >/dev/null || fail "dkg propose"
    for i in 1 2 3 4; do
        n=0
        until [ "$(phase "$i")" = proposed ]; do
            n=$((n + 1)); [ "$n" -lt 40 ] || fail "trustee-$i never saw the proposal"; sleep 0.5
        done
        as_op "$i" dkg accept --trustee "trustee-$i:7000" >/dev/null || fail "op-$i could not accept"
    done
    n=0
    until [ "$(phase 0)" = ready ]; do
        n=$((n + 1)); [ "$n" -lt 40 ] || fail "the ceremony never became ready"; sleep 0.5
    done
}
ended() { # INDEX...: waits until each of these trustees' latest ceremony ended; prints their phases
    n=0
    while :; do
        all=""; done_=1
        for i in "$@"; do
            p=$(phase "$i"); all="$all $p"
            [ "$p" = installed ] || [ "$p" = aborted ] || done_=0
        done
        [ "$done_" = 1 ] && break
        n=$((n + 1)); [ "$n" -lt 40 ] || fail "not every trustee ended the ceremony:$all"; sleep 0.5
    done
    echo "$all"
}
ceremony 1500
pause trustee-2 || fail "trustee-2 could not be paused"
(as_op 0 dkg execute --trustee trustee-0:7000 --wait --peer-wait-secs 60 > "$state/execute.out" 2>&1) &
executing=$!
sleep 12    # E + 4 phases of 1.5 s, then up to 3 s asking the peers, from before the execute
docker unpause "$(cid trustee-2)" >/dev/null
if wait "$executing"; then executed=ok; else executed="exit $?"; fi
phases=$(ended 0 1 2 3 4)
# shellcheck disable=SC2086
set -- $phases
for p in "$@"; do [ "$p" = "$1" ] || fail "the five trustees ended the ceremony differently:$phases"; done
no_split
step "ceremony with trustee-2 paused across the agreement deadline: all five $1 (execute --wait: $executed)"
[ "$1" = aborted ] || fail "trustee-2 could not have signed while paused, yet the ceremony ended $1"

# Key ceremonies with trustee-3 cut off (docker network disconnect) from before the
# execute until the other four have ended it, past every phase deadline. The trustees
# share four networks (trustees, access, witnessing, monitoring) and reach one another
# by name on each, so the cut is from all four, as an outage would be: its operator
# cannot reach it either. It can neither deal nor agree, and a key set installs only
# with every participant's agreement, so the protocol leaves one outcome: aborted, at
# all five. Trustee-3 is reconnected twice over: at once, while the others still retry
# their messages to it (the execute, every dealing and agreement, then the aborts
# arrive together: it must ask before it installs on them), and past the 30 s of
# retries (it hears nothing: it must ask its peers how the ceremony ended). No trustee
# may hold epoch 2.
epochs_held() { # the epochs column of `status`, one per trustee, in order
    # shellcheck disable=SC2086
    as_auditor status $trustees --json 2>/dev/null \
        | jq -j '.trustees[] | select(.health == "SERVING") | "\(.epochs | map(tostring) | join(",")) "'
}
why() { as_op "$1" dkg status --trustee "trustee-$1:7000" --json 2>/dev/null | jq -r '.abort_reason // empty'; }
shared="trustees access witnessing monitoring"
cut_ceremony() { # SECONDS: trustee-3 stays cut off this long after the others ended; sets $summary
    away=$1
    ceremony 1500
    for net in $shared; do docker network disconnect "${name}_$net" "$(cid trustee-3)"; done
    (as_op 0 dkg execute --trustee trustee-0:7000 --wait --peer-wait-secs 90 > "$state/execute-cut.out" 2>&1) &
    executing=$!
    others=$(ended 0 1 2 4)
    sleep "$away"
    for net in $shared; do docker network connect --alias trustee-3 "${name}_$net" "$(cid trustee-3)"; done
    r0=$(date +%s)
    cut_phase=$(phase 3)
    if wait "$executing"; then executed=ok; else executed="exit $?"; fi
    phases=$(ended 0 1 2 3 4)
    r1=$(date +%s)
    # shellcheck disable=SC2086
    set -- $phases
    for p in "$@"; do
        [ "$p" = aborted ] || fail "with trustee-3 cut off (back $away s after the others ended) the ceremony ended:$phases (others:$others)"
    done
    no_split
    held=$(epochs_held)
    [ "$held" = "1 1 1 1 1 " ] || fail "after the aborted ceremony, the trustees hold epochs [$held], not only epoch 1 each"
    # How many messages reached trustee-3 marked as having waited for it (each makes
    # it ask its peers before it installs), over both runs so far.
    waited=$(compose logs --no-color trustee-3 2>/dev/null | grep -c "waited for this trustee" || true)
    summary="the other four aborted (execute --wait: $executed; trustee-0: $(why 0)); trustee-3 was $cut_phase just after it was reconnected (trustee-3: $(why 3)); all five ended within $((r1 - r0)) s of the reconnect; trustee-3 has taken $waited messages marked as having waited for it; every trustee holds 1 epoch, none split"
}
cut_ceremony 0
step "ceremony with trustee-3 disconnected from its four networks past every deadline, back while the others retried: $summary"
cut_ceremony 32
step "the same, back past the others' 30 s of retries: $summary"

ceremony 2000
out=$(as_op 0 dkg execute --trustee trustee-0:7000 --wait --json 2>"$(err rerun)") || fail "rerun: $out $(errs rerun)"
[ "$(printf '%s\n' "$out" | jq -r '.verdict.outcome')" = installed ] || fail "rerun: $out"
as_auditor epoch fetch --trustee trustee-3:7000 --epoch 2 --out /data/epoch-2.announcement >/dev/null || fail "epoch fetch"
holders=""
for i in 0 1 2 3 4; do holders="$holders --holder trustee-$i=trustee-$i:7000"; done
# shellcheck disable=SC2086
verified=$(as_auditor epoch verify /data/epoch-2.announcement $holders --json 2>"$(err verify)") \
    || fail "epoch verify: $verified $(errs verify)"
[ "$(printf '%s\n' "$verified" | jq '.every_holder_installed')" = true ] || fail "epoch verify: $verified"
step "rerun: epoch 2 installed at all five; epoch verify --holder: every holder serves its announcement"

# After every fault, every log still verifies, consistent with what the auditor saw
# before and with the witnesses.
audit_verify "audit after the faults"
[ "$(verified_logs)" -eq 5 ] || fail "audit after the faults: $audit"
step "audit after the faults: 5 logs verified, consistent with the first audit and the witnesses"
# Each organisation's secrets only in its own volume: every private key file (`.key`,
# a user's `.ukey`) each volume holds is exactly its own parties' and its own CA's; the
# twelve CAs are twelve; the host holds no key and no passphrase; and the federation
# gives no CA the operators of more than one trustee.
own_keys() { # ORG: the key files its volume must hold, and no other
    case $1 in
        org-trustee-*) t=${1#org-}; echo "org/ca.key org/$t.key org/$t.op-${t#trustee-}.key org/$t.signing.key state/log.key state/seal.key" ;;
        provider) echo "alice.ukey bob.ukey org/ca.key org/relay.key org/user-alice.key org/user-bob.key" ;;
        org-agency-1) echo "org/ca.key org/agency-1.key" ;;
        auditors) echo "org/ca.key org/auditor-1.key" ;;
        org-w*) echo "org/ca.key org/witness-${1#org-}.key state/witness.key" ;;
        court) echo "courts/high-court.key org/ca.key" ;;
    esac
}
cas=""
for org in $orgs; do
    c=$(files "$org") || fail "no container for $org's volume"
    # The names only: the tar stream of the volume goes to `tar -t`, nowhere else.
    held=$(docker cp "$c:/data" - | tar -t | sed -n 's,^data/,,p' | grep -E '\.(key|ukey)$' | sort | tr '\n' ' ')
    ca=$(docker cp "$c:/data/org/ca.pem" - | tar -xO | sha256sum | cut -d' ' -f1)
    docker rm "$c" >/dev/null
    # shellcheck disable=SC2046
    want=$(printf '%s\n' $(own_keys "$org") | sort | tr '\n' ' ')
    [ "$held" = "$want" ] || fail "$org's volume holds key files [$held], not exactly its own [$want]"
    cas="$cas $ca"
done
norgs=$(echo "$orgs" | wc -w)
# shellcheck disable=SC2086
[ "$(printf '%s\n' $cas | sort -u | wc -l)" -eq "$norgs" ] || fail "not $norgs distinct CAs:$cas"
onhost=$(find "$state" \( -name '*.key' -o -name '*.ukey' -o -name '*.share' -o -name 'passphrase*' \) -print)
[ -z "$onhost" ] || fail "secrets on the host: $onhost"
shown=$("$bin" federation show "$pub/federation.toml" --json 2>"$(err show)") \
    || fail "federation show: $shown $(errs show)"
[ "$(printf '%s\n' "$shown" | jq '.one_root')" = false ] || fail "federation show: $shown"
[ "$(printf '%s\n' "$shown" | jq '[.organisations[] | select(.approves_at == {trustees: 1, of: 5})] | length')" -eq 5 ] \
    || fail "federation show: $shown"
step "secrets: $norgs organisations, $norgs CAs; each CA key and party key only in its own volume, none on the host; one stolen CA key approves at 1 of 5 trustees at most"
step "ok in $(( $(date +%s) - t0 )) s"
