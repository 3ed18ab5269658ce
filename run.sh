#!/usr/bin/env bash
# LangFlix set-up and entry points on a fresh Debian machine.
#   ./run.sh demo   make a sample episode and turn it into learning videos (./langflix-output/)
#   ./run.sh test   lint (ruff), type-check (mypy), then run the whole test suite
# Both install what is missing first: Debian packages (as root), a virtualenv, the package.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(ffmpeg espeak-ng fonts-noto-cjk fonts-dejavu-core fontconfig tesseract-ocr tesseract-ocr-eng
    tesseract-ocr-kor python3-venv)
# Only the tests drive a browser and start their own Redis: `demo` and `langflix serve` never need these.
TEST_APT_PACKAGES=(chromium chromium-driver redis-server)
VENV=.venv

missing_packages() {
    local missing=()
    command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
    command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
    command -v fc-match >/dev/null 2>&1 || missing+=(fontconfig)
    if command -v fc-list >/dev/null 2>&1; then
        # Read the list first: `fc-list | grep -q` dies of SIGPIPE under pipefail.
        local fonts
        fonts=$(fc-list : family)
        grep -qi 'Noto Sans CJK' <<<"$fonts" || missing+=(fonts-noto-cjk)
        grep -qi 'DejaVu Sans' <<<"$fonts" || missing+=(fonts-dejavu-core)
    else
        missing+=(fonts-noto-cjk fonts-dejavu-core)
    fi
    # The tests read burned-in subtitles back from frames, in English and Korean.
    if command -v tesseract >/dev/null 2>&1; then
        local langs
        langs=$(tesseract --list-langs 2>&1 || true)
        grep -qx 'eng' <<<"$langs" || missing+=(tesseract-ocr-eng)
        grep -qx 'kor' <<<"$langs" || missing+=(tesseract-ocr-kor)
    else
        missing+=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor)
    fi
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
    if [ "${1:-}" = test ]; then
        # The dashboard's browser tests: Debian's Chromium and its matching chromedriver.
        [ -x /usr/bin/chromium ] || missing+=(chromium)
        [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
        # The scale-out tests start a real redis-server of their own (LANGFLIX_REDIS_URL, `langflix worker`).
        command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    fi
    echo "${missing[@]:-}"
}

install_system_packages() {
    local missing
    missing=$(missing_packages "${1:-}")
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "LangFlix needs these Debian packages: $missing" >&2
        echo "Install them as root, then run this again:  sudo apt-get install -y $missing" >&2
        exit 1
    fi
    echo "Installing Debian packages: $missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_python_package() {
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "LangFlix needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)." >&2
        exit 1
    }
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local stamp="$VENV/.langflix-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e ".[test]"
        touch "$stamp"
    fi
}

main() {
    local verb=${1:-}
    shift || true
    case "$verb" in
        demo)
            install_system_packages
            install_python_package
            exec "$VENV/bin/langflix" demo "$@"
            ;;
        test)
            install_system_packages test
            install_python_package
            # Fail fast: a lint or type error stops the run before the slow suite.
            "$VENV/bin/ruff" check .
            "$VENV/bin/mypy"
            exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
            ;;
        *)
            echo "usage: ./run.sh demo | test [pytest args]" >&2
            exit 2
            ;;
    esac
}

main "$@"
