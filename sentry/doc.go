// Package sentry serves trapped calls: it receives each notification from a
// seccomp listener, validates the call in the order Linux does, asks the
// policy, performs an allowed call itself with its own copy of the
// arguments, answers the program, and writes the audit record.
//
// It knows nothing of how the program was started: a listener is all it
// needs (Serve), whether spawn started the program or a container runtime
// handed the listener over. Starting and confining a program is package
// spawn's job; sentry imports nothing of it (gVisor keeps its task
// machinery apart from its syscall handlers so too).
//
// Files follow syscall families (connect.go, bind.go, send.go…);
// handlers.go holds the one table that maps a trapped syscall to its
// handler and drives the filter (filter.go) too, so that trapping a new
// call is one file and one table row. A handler returns its result
// (result.go), which call.go delivers in one place.
package sentry
