package sentry

import (
	"sandbox/seccomp"
)

// handler is one trapped syscall: the function that decides its answer
// (see result) and, when only some of its calls need an answer, the
// register conditions that pick them (the others run untouched, as they
// name no destination).
type handler struct {
	fn   func(*call) result
	when []seccomp.Cond
	// hostOnly: trapped in --net host only. In the other modes the
	// program's network namespace is its own, and nothing outside can
	// reach what it binds.
	hostOnly bool
}

// handlers maps each trapped syscall to its handler: trapping a new call is
// a file with its handler and a row here. The filter traps exactly these.
var handlers = map[string]handler{
	"connect": {fn: sysConnect},
	// sendto without an address sends where the socket is connected to,
	// which connect decided; only an address names a new destination.
	// The pointer is compared whole: the kernel tests it whole (if
	// (addr)), so no upper bits can hide it.
	"sendto": {fn: sysSendto, when: []seccomp.Cond{{Arg: 4, Op: seccomp.NotEqual, Value: 0}}},
	// msg_name sits in the program's memory, out of a filter's sight:
	// every sendmsg and sendmmsg is trapped and made by the supervisor.
	"sendmsg":  {fn: sysSendmsg},
	"sendmmsg": {fn: sysSendmmsg},
	// Inbound: a bound port takes connections and datagrams from anyone
	// who can reach the host. bind's address sits in the program's
	// memory and its fd may name any socket, so every bind is made by the
	// supervisor; listen judges a stream socket whose port the kernel
	// chose.
	"bind":   {fn: sysBind, hostOnly: true},
	"listen": {fn: sysListen, hostOnly: true},
}
