#!/bin/sh
# Validates every manifest here against the Kubernetes 1.31 schemas, strictly (unknown
# fields fail), with the pinned PyPI package kubernetes-validate, offline once
# installed (it bundles the schemas). Run by .ci/run.
#
#   deploy/k8s/validate.sh [VENV]      (default: target/k8s-validate-venv)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-$here/../../target/k8s-validate-venv}
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.31.0"
fi
"$venv/bin/kubernetes-validate" --strict --quiet -k 1.31.0 "$here"/*.yaml
echo "kubernetes-validate 1.31.0 (strict): $(ls "$here"/*.yaml | wc -l) manifests valid"
