// Package seccomp builds and installs the seccomp filter that traps the calls
// the supervisor mediates, hands the notification listener from the child to
// the supervisor, and wraps the user-notification operations (receive,
// id-valid, respond).
//
// It knows nothing of policy: the caller says which syscalls to trap, and the
// answers it sends are decided elsewhere.
package seccomp
