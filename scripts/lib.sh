# shellcheck shell=bash
# Shared helpers for scripts/test and scripts/run. Source it, don't run it.
#
# After sourcing, the current directory is the repository root and
# ensure_venv gives a .venv with the project installed (editable, with [test]).

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

VENV="$REPO_ROOT/.venv"
VENV_PY="$VENV/bin/python"

log() { printf 'scripts/%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }
is_root() { [[ "$(id -u)" == 0 ]]; }

# True if the given interpreter runs and is Python >= 3.11.
python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

# First python3.11 / python3 (or newer 3.x) on PATH that is >= 3.11.
find_python() {
    local cand
    for cand in python3.11 python3 python3.13 python3.12; do
        if command -v "$cand" >/dev/null 2>&1 && python_ok "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

create_venv() {
    local py
    py="$(find_python)" || die "no Python >= 3.11 found on PATH (tried python3.11, python3, python3.13, python3.12)"
    log "creating virtualenv .venv with $py"
    if "$py" -m venv "$VENV"; then
        return 0
    fi
    # Debian ships venv/ensurepip separately (python3-venv); a failed attempt
    # leaves a half-made .venv behind, so remove it before retrying.
    rm -rf "$VENV"
    if is_root && command -v apt-get >/dev/null 2>&1; then
        log "python -m venv failed; installing python3-venv with apt-get"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        "$py" -m venv "$VENV" || die "could not create .venv even after installing python3-venv"
    else
        die "'$py -m venv' failed; install the venv module (Debian: apt-get install python3-venv)"
    fi
}

# Make sure .venv exists and has the current pyproject.toml installed.
# The stamp file name carries the hash of pyproject.toml, so the (slow) pip
# step only reruns when dependencies or metadata change.
ensure_venv() {
    if [[ ! -x "$VENV_PY" ]]; then
        create_venv
    elif ! python_ok "$VENV_PY"; then
        # Not deleted automatically: it may be someone's working environment.
        die ".venv/bin/python does not run or is older than 3.11; remove .venv and try again"
    fi

    local hash stamp
    hash="$("$VENV_PY" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' pyproject.toml)"
    stamp="$VENV/.installed-$hash"
    if [[ -f "$stamp" ]]; then
        return 0
    fi
    log "installing the project into .venv (pip install -e '.[test]')"
    "$VENV_PY" -m pip install -q --disable-pip-version-check -e '.[test]'
    rm -f "$VENV"/.installed-*
    touch "$stamp"
}
