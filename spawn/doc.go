// Package spawn starts a program under the sandbox: it re-executes the
// sandbox binary as the program's init step, which sets up the program's
// network (a namespace, a TUN device), confines it (capabilities,
// Landlock), installs the seccomp filter that sentry's handlers define and
// passes its listener to the supervisor, stays on as the watchdog that
// kills everything the program started should the supervisor die, and
// finally execs the program. Run ties the two sides together: it starts
// the program, starts netstack for --net sandbox, serves the listener
// with sentry, forwards signals and returns the program's exit status.
package spawn
