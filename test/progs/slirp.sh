#!/bin/sh
# slirp.sh CMD [ARGS...]: run CMD in a new user and network namespace whose
# network is slirp4netns — the way rootless containers get theirs — for the
# throughput benchmark's comparison. slirp's own network is 198.19.0.0/24 and
# the host's loopback is kept out of it.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
unshare --user --map-root-user --net sh -c '
	echo $$ > "$0/pid"
	while [ ! -e "$0/ready" ]; do sleep 0.02; done
	shift; exec "$@"' "$dir" - "$@" &
child=$!
while [ ! -s "$dir/pid" ]; do sleep 0.02; done
slirp4netns --configure --mtu=65520 --disable-host-loopback --cidr 198.19.0.0/24 \
	--ready-fd 3 "$(cat "$dir/pid")" tap0 3>"$dir/ready.tmp" >"$dir/slirp.log" 2>&1 &
slirp=$!
while [ ! -s "$dir/ready.tmp" ]; do sleep 0.02; done
touch "$dir/ready"
status=0
wait $child || status=$?
kill $slirp 2>/dev/null || true
exit $status
