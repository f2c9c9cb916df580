#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run the gateway (examples/gateway/nginx.conf) in the foreground as an ordinary user, with the
# ports of your choice. Everything nginx writes goes under PREFIX.
#
#   examples/gateway/run-gateway.sh [--prefix DIR] [--port N] [--server-port N]
#                                   [--signals-port N] [--check]
#
# Defaults: prefix $TMPDIR/cmee-gateway-UID (TMPDIR: /tmp), port 8080, cmee-server 8000,
# cmee-signals 8001 (also from CMEE_GATEWAY_PREFIX, CMEE_GATEWAY_PORT, CMEE_SERVER_PORT,
# CMEE_SIGNALS_PORT; NGINX names the nginx binary). --check only tests the generated
# configuration (nginx -t). Stop the gateway with Ctrl-C or SIGTERM/SIGQUIT.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${CMEE_GATEWAY_PREFIX:-${TMPDIR:-/tmp}/cmee-gateway-$(id -u)}
port=${CMEE_GATEWAY_PORT:-8080}
server_port=${CMEE_SERVER_PORT:-8000}
signals_port=${CMEE_SIGNALS_PORT:-8001}
check=

usage() {
    sed -n '7,8p' "$0" | sed 's/^# *//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --port) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
    --server-port) [ $# -ge 2 ] || usage; server_port=$2; shift 2 ;;
    --signals-port) [ $# -ge 2 ] || usage; signals_port=$2; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-gateway.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

for p in "$port" "$server_port" "$signals_port"; do
    case $p in
    ''|*[!0-9]*) echo "run-gateway.sh: bad port '$p'" >&2; exit 2 ;;
    esac
    if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
        echo "run-gateway.sh: port $p out of range" >&2
        exit 2
    fi
done

if [ -n "${NGINX:-}" ]; then
    nginx=$NGINX
elif command -v nginx >/dev/null 2>&1; then
    nginx=$(command -v nginx)
elif [ -x /usr/sbin/nginx ]; then
    nginx=/usr/sbin/nginx    # Debian keeps it out of an ordinary user's PATH
else
    echo "run-gateway.sh: nginx not found (apt-get install nginx-light, or set NGINX)" >&2
    exit 1
fi

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
# The three default addresses of nginx.conf, each rewritten once ('t' moves to the next line
# after a substitution, so a new port is never rewritten again).
sed -e "s/listen 127\.0\.0\.1:8080;/listen 127.0.0.1:$port;/;t" \
    -e "s/server 127\.0\.0\.1:8000 /server 127.0.0.1:$server_port /;t" \
    -e "s/server 127\.0\.0\.1:8001 /server 127.0.0.1:$signals_port /" \
    "$here/nginx.conf" >"$prefix/nginx.conf"

if [ -n "$check" ]; then
    exec "$nginx" -t -q -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log"
fi
echo "gateway: http://127.0.0.1:$port -> cmee-server 127.0.0.1:$server_port," \
    "cmee-signals 127.0.0.1:$signals_port (logs in $prefix)"
exec "$nginx" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon off;'
