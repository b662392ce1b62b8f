#!/bin/sh
# The demo `make run` runs under the embedded default policy (loopback and
# unix sockets only). It runs inside a network namespace of its own that holds
# nothing but lo, so the denied address below could not be reached even
# without the sandbox; the sandbox refuses it before any packet is made.
set -u
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
echo "hello from a loopback server" > "$dir/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$dir" 8765 >/dev/null 2>&1 &
server=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
	curl -s -o /dev/null http://127.0.0.1:8765/ && break
	sleep 0.2
done
echo "== allowed: http://127.0.0.1:8765/"
curl -sS http://127.0.0.1:8765/
echo "== denied: http://198.18.0.1/ (not loopback)"
python3 -c '
import socket
try:
    socket.create_connection(("198.18.0.1", 80), timeout=5)
    print("connected?!")
except OSError as e:
    print("connect 198.18.0.1:80:", e)
'
