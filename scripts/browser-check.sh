#!/usr/bin/env bash
# Checks a static report page in a real browser (Debian's headless Chromium).
#
#   scripts/browser-check.sh install
#       Installs Debian's `chromium` when /usr/bin/chromium is missing (as root, or with sudo).
#       `make test` runs this first, so CI on a fresh machine has the browser.
#   scripts/browser-check.sh check PAGE.html SCREENSHOT.png [WIDTH,HEIGHT]
#       Loads PAGE.html from disk (no server, no network), then prints one line
#         images=N broken=LIST errors=N console=N check=ok|fail
#       and writes a screenshot. Exit status 0 only when every image loaded
#       (naturalWidth > 0), no script error or console.error happened (the page's own check
#       script records both on <body>), and Chromium logged no console message.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

install_chromium() {
    if [ -x "$CHROMIUM" ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "chromium is missing and this user cannot install it: run 'apt-get install chromium' as root" >&2; exit 1; }
        sudo="sudo"
    fi
    echo "installing Debian's chromium (for the report's browser test)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    [ -x "$CHROMIUM" ] || { echo "apt-get installed chromium but $CHROMIUM is missing" >&2; exit 1; }
}

check_page() {
    local page shot size profile dom marker
    page=$(realpath "$1")
    shot=$2
    size=${3:-1400,5200}
    [ -f "$page" ] || { echo "no page at $1" >&2; exit 2; }
    [ -x "$CHROMIUM" ] || { echo "no $CHROMIUM: run 'scripts/browser-check.sh install' (make test does)" >&2; exit 2; }
    profile=$(mktemp -d)
    trap 'rm -rf "$profile"' RETURN
    # The flags keep Chromium off the network (this machine has none) and out of the user's
    # profile; --virtual-time-budget lets the load event and its handler run before the dump.
    local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --disable-extensions --hide-scrollbars --user-data-dir="$profile"
        --virtual-time-budget=15000)
    dom=$(timeout 180 "$CHROMIUM" "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "file://$page" 2>"$profile/stderr.log") || {
        echo "chromium failed to load $page:" >&2
        tail -20 "$profile/stderr.log" >&2
        exit 1
    }
    mkdir -p "$(dirname "$shot")"
    timeout 180 "$CHROMIUM" "${flags[@]}" --window-size="$size" --screenshot="$(realpath -m "$shot")" "file://$page" 2>/dev/null >/dev/null || {
        echo "chromium failed to take a screenshot of $page" >&2
        exit 1
    }
    attr() { grep -o "$1=\"[^\"]*\"" <<<"$dom" | head -1 | sed -e "s/^$1=\"//" -e 's/"$//'; }
    marker=$(attr data-report-check)
    local images broken errors error_text console
    images=$(attr data-images)
    broken=$(attr data-images-broken)
    errors=$(attr data-errors)
    error_text=$(attr data-error-text)
    # Console messages (console.log/error, uncaught exceptions, failed loads) as Chromium logs them.
    console=$(grep -c -E 'CONSOLE|Uncaught|Failed to load resource' "$profile/stderr.log" || true)
    local verdict=ok
    if [ "$marker" != ok ] || [ "$console" != 0 ] || [ ! -s "$shot" ]; then
        verdict=fail
    fi
    echo "images=${images:-?} broken=${broken:--} errors=${errors:-?} console=$console check=$verdict"
    if [ "$verdict" != ok ]; then
        [ -z "$marker" ] && echo "the page's check script did not run (no data-report-check on <body>)" >&2
        [ -n "$error_text" ] && echo "page errors: $error_text" >&2
        grep -E 'CONSOLE|Uncaught|Failed to load resource' "$profile/stderr.log" >&2 || true
        exit 1
    fi
}

case "${1:-}" in
    install) install_chromium ;;
    check)
        [ $# -ge 3 ] || { echo "usage: $0 check PAGE.html SCREENSHOT.png [WIDTH,HEIGHT]" >&2; exit 2; }
        check_page "$2" "$3" "${4:-}"
        ;;
    *)
        echo "usage: $0 install | check PAGE.html SCREENSHOT.png [WIDTH,HEIGHT]" >&2
        exit 2
        ;;
esac
