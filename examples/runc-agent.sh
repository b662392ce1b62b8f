#!/bin/sh
# The OCI agent with runc, as README's "Containers under runc" describes it,
# end to end and self-contained (as root; needs runc, gcc and python3):
# a rootfs of one static program, a bundle from `runc spec` whose
# linux.seccomp is `sandbox oci-profile`'s, an agent whose policy
# directory holds the policy the container's annotation names. The
# container connects to two loopback servers of this script: the policy
# allows one. CI runs it as written (test/agent_test.go).
#
#   sh examples/runc-agent.sh [path/to/sandbox]
set -eu
sandbox=$(realpath "${1:-bin/sandbox}")
dir=$(mktemp -d)
cleanup() {
	runc delete --force sandbox-example >/dev/null 2>&1 || true
	kill "$agent" "$ok" "$no" 2>/dev/null || true
	rm -rf "$dir"
}
agent= ok= no=
trap cleanup EXIT

# Two servers on the host's loopback: one the policy allows, one not.
python3 -m http.server --bind 127.0.0.1 8781 >/dev/null 2>&1 & ok=$!
python3 -m http.server --bind 127.0.0.1 8782 >/dev/null 2>&1 & no=$!

# The container's program: connect to each port given, say how it went.
mkdir -p "$dir/bundle/rootfs" "$dir/policies"
cat > "$dir/dial.c" <<'C'
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[i]))};
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			printf("127.0.0.1:%s: connected\n", argv[i]);
		else
			printf("127.0.0.1:%s: %s\n", argv[i], strerror(errno));
		close(fd);
	}
	return 0;
}
C
gcc -static -O2 -o "$dir/bundle/rootfs/dial" "$dir/dial.c"

# The policy a container picks with the annotation sandbox.policy: web.
cat > "$dir/policies/web.yaml" <<'YAML'
version: 1
default: deny
rules:
  - allow: tcp 127.0.0.1:8781
YAML

"$sandbox" agent --socket "$dir/agent.sock" --policy-dir "$dir/policies" --log "$dir/audit.jsonl" 2>"$dir/agent.log" & agent=$!
while [ ! -S "$dir/agent.sock" ]; do sleep 0.1; done

# The bundle: runc spec, then the program, the host's network, the
# annotation and the agent's profile.
cd "$dir/bundle"
runc spec
"$sandbox" oci-profile --socket "$dir/agent.sock" > "$dir/profile.json"
python3 - "$dir/profile.json" <<'PY'
import json, sys
c = json.load(open("config.json"))
c["process"].update(args=["/dial", "8781", "8782"], terminal=False)
c["root"] = {"path": "rootfs", "readonly": True}
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["linux"]["seccomp"] = json.load(open(sys.argv[1]))
c["annotations"] = {"sandbox.policy": "web"}
json.dump(c, open("config.json", "w"), indent=1)
PY
for _ in 1 2 3 4 5 6 7 8 9 10; do
	python3 -c 'import socket; [socket.create_connection(("127.0.0.1", p)).close() for p in (8781, 8782)]' 2>/dev/null && break
	sleep 0.2
done

echo "== in the container:"
runc run --bundle "$dir/bundle" sandbox-example
echo "== the agent's records:"
cat "$dir/audit.jsonl"
