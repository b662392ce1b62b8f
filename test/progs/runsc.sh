#!/bin/sh
# runsc.sh RUNSC TESTHOST ADDR CONFIG: run the OCI bundle whose config.json
# is CONFIG under gVisor's runsc with its own network stack
# (--network=sandbox), for the benchmarks' comparison. The container's
# network namespace is a fresh one joined to the test host's namespace
# TESTHOST by a veth pair, with ADDR (an address of the test host's /24) as
# its address: the way runsc gives a container its network, with no NAT
# and nothing beyond the test host. CONFIG names its network namespace as
# @NETNS@. runsc takes the interface's addresses into its sandbox, so each
# run gets a namespace of its own.
set -eu
runsc=$1 host=$2 addr=$3 config=$4
# Interface names are at most 15 characters: 3 + a pid of at most 7 digits.
ns=sbxrs$$ outer=rso$$ inner=rsi$$
dir=$(mktemp -d)
cleanup() {
	# runsc leaves its "null" network namespace mounted under its root.
	umount "$dir/root/null-netns" 2>/dev/null || true
	rm -rf "$dir"
	ip -n "$host" link del "$outer" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip link add "$outer" netns "$host" type veth peer name "$inner" netns "$ns"
ip -n "$host" link set "$outer" up
# The test host reaches ADDR through this pair, not through its own /24's
# interface: a host route is more specific.
ip -n "$host" route add "$addr/32" dev "$outer"
ip -n "$ns" addr add "$addr/24" dev "$inner"
ip -n "$ns" link set "$inner" up
ip -n "$ns" link set lo up
mkdir "$dir/bundle" "$dir/root"
sed "s|@NETNS@|/run/netns/$ns|" "$config" >"$dir/bundle/config.json"
"$runsc" --root "$dir/root" --ignore-cgroups --network=sandbox \
	run --bundle "$dir/bundle" "sbx$$"
