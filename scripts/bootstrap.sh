# Sourced by scripts/demo and scripts/test: make a fresh machine able to run the project.
# Idempotent and quiet when everything is already in place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

# Debian packages this project runs against. Installed only when missing, and only as root.
# fonts-noto-cjk: without a CJK font a browser on a fresh machine shows the board's Chinese as boxes.
DEBIAN_PACKAGES=(python3-venv postgresql fontconfig fonts-noto-cjk)
# Only the tests need these (scripts/test adds them): chromium, which the end-to-end tests drive
# through Playwright (Playwright never downloads a browser of its own here).
DEBIAN_TEST_PACKAGES=(chromium)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

ensure_debian_packages() {
    local missing=() wanted=("${DEBIAN_PACKAGES[@]}" "$@")
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        log "missing Debian packages: ${missing[*]} (run as root to install them)"; return 0
    fi
    log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
    local extras="${1:-}" stamp="$VENV/.installed-${1:-base}" target="$ROOT"
    [ -n "$extras" ] && target="$ROOT[$extras]"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PY" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ]; then
        log "installing $target into $VENV"
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null
        "$VENV/bin/pip" install -q -e "$target"
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# The store tests run on PostgreSQL too (127.0.0.1:5432, user postgres, trust, database test).
ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then :; elif [ "$(id -u)" -eq 0 ] && command -v pg_ctlcluster >/dev/null; then
        local version; version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
        if [ -n "$version" ]; then
            log "starting PostgreSQL $version"
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        fi
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        log "PostgreSQL is not answering on 127.0.0.1:5432; its tests will be skipped"; return 0
    fi
    if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
        su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" 2>/dev/null | grep -q 1 \
            || su postgres -c "createdb test" 2>/dev/null || true
    fi
}
