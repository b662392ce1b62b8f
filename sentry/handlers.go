package sentry

import (
	"maps"
	"slices"
)

// handlers maps each trapped syscall to its handler: trapping a new call is
// a file with its handler and a row here. The filter traps exactly these.
var handlers = map[string]func(*call){
	"connect": sysConnect,
}

// trapped lists the syscalls the filter sends to the supervisor.
func trapped() []string { return slices.Sorted(maps.Keys(handlers)) }
