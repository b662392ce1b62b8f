// Package sentry is the supervisor: it starts the program under the seccomp
// filter, receives every trapped call, validates it in the order Linux does,
// asks the policy, performs allowed calls itself with its own copy of the
// arguments, answers the program, and writes the audit record.
//
// Files follow syscall families (connect.go, …); handlers.go holds the one
// table that maps a trapped syscall to its handler, so that trapping a new
// call is one file and one table row.
package sentry
