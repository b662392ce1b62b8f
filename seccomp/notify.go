package seccomp

import (
	"errors"
	"fmt"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/rawfile"
)

// The notification ioctls are made directly rather than through
// libseccomp-golang: its wrappers make several cgo calls, an API-level check
// and a malloc per call, and each trapped call pays for three of them. The
// structures are the kernel's UAPI (linux/seccomp.h), fixed since 5.0.

// notifReq is struct seccomp_notif.
type notifReq struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32 // struct seccomp_data
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// notifResp is struct seccomp_notif_resp.
type notifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// Notif is one trapped call, as the kernel reported it.
type Notif struct {
	ID      uint64    // the kernel's cookie; valid until answered or the caller is interrupted
	Pid     int       // thread id of the caller, in the supervisor's pid namespace
	Syscall string    // name of the call, e.g. "connect"
	Args    [6]uint64 // raw arguments; pointers are in the caller's memory
}

// Listener is the supervisor's end of a seccomp filter: the fd the kernel
// reports trapped calls on.
type Listener struct {
	fd    int
	names map[int32]string
}

// NewListener wraps a listener fd received from the child, for a filter
// that traps the syscalls named in trapped. The Listener owns fd from then
// on.
func NewListener(fd int, trapped []string) (*Listener, error) {
	l := &Listener{fd: fd, names: make(map[int32]string, len(trapped))}
	for _, name := range trapped {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			return nil, fmt.Errorf("seccomp: unknown syscall %q: %w", name, err)
		}
		l.names[int32(nr)] = name
	}
	// Synchronous wake-ups (Linux 6.6) hand the CPU straight from the
	// trapped thread to the supervisor and back, like a direct switch,
	// instead of waking a thread that may sit on an idle CPU: on a
	// virtual machine that wake-up costs more than the whole decision.
	// Older kernels refuse the flag; the sandbox is then only slower.
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, userNotifFdSyncWakeUp)
	return l, nil
}

// userNotifFdSyncWakeUp is SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP.
const userNotifFdSyncWakeUp = 1

// ErrClosed is returned by Receive once every task that used the filter has
// exited: no call can be trapped any more.
var ErrClosed = errors.New("seccomp listener: no task uses the filter any more")

// Receive waits for the next trapped call. It returns ErrClosed when every
// task under the filter has exited. A notification withdrawn between the
// wake-up and the read (its caller was signalled) is skipped silently.
func (l *Listener) Receive() (*Notif, error) {
	for {
		// poll first: a blocked NOTIF_RECV ioctl never wakes when the
		// last task exits, but poll reports POLLHUP then.
		//
		// rawfile.BlockingPoll gives up the thread's P (Go's right to
		// run code) as it enters ppoll. A plain blocking poll keeps it
		// until sysmon takes it back, 20 µs to 10 ms later, and the
		// goroutines that must run to answer the call in flight —
		// netstack's, which complete a connect — wait for it. The
		// thread itself waits, not Go's poller, so the trapped
		// thread's synchronous wake-up still lands on it directly.
		fds := []rawfile.PollEvent{{FD: int32(l.fd), Events: unix.POLLIN}}
		if _, errno := rawfile.BlockingPoll(&fds[0], len(fds), nil); errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			return nil, fmt.Errorf("poll seccomp listener: %w", errno)
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				return nil, ErrClosed
			}
			continue
		}
		var req notifReq // the kernel insists on a zeroed buffer
		if err := l.ioctl(unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINTR) {
				continue // the caller was interrupted before we read it
			}
			return nil, fmt.Errorf("receive seccomp notification: %w", err)
		}
		name, ok := l.names[req.nr]
		if !ok {
			name = fmt.Sprintf("syscall_%d", req.nr)
		}
		return &Notif{ID: req.id, Pid: int(req.pid), Syscall: name, Args: req.args}, nil
	}
}

// ErrGone means the notification is no longer pending: its caller was
// interrupted by a signal or has exited. Whatever was decided for it reaches
// no one.
var ErrGone = errors.New("seccomp notification is no longer pending")

// Valid reports whether notification id is still pending. Checked after
// reading the caller's memory, it proves the pid still names the task that
// made the call (pids can be reused once the caller has gone).
func (l *Listener) Valid(id uint64) error {
	if err := l.ioctl(unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ErrGone
		}
		return fmt.Errorf("check seccomp notification: %w", err)
	}
	return nil
}

// Respond answers the call: errno 0 makes it return val, any other errno
// makes it fail with that errno. It returns ErrGone when the caller is no
// longer waiting.
func (l *Listener) Respond(id uint64, val int64, errno unix.Errno) error {
	resp := notifResp{id: id, val: val}
	if errno != 0 {
		resp.val, resp.error = 0, -int32(errno) // the kernel wants it negated
	}
	if err := l.ioctl(unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ErrGone
		}
		return fmt.Errorf("answer seccomp notification: %w", err)
	}
	return nil
}

func (l *Listener) ioctl(req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(l.fd), req, uintptr(arg))
		if e == unix.EINTR && req != unix.SECCOMP_IOCTL_NOTIF_RECV {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// Close releases the listener. Calls still trapped then fail with ENOSYS.
func (l *Listener) Close() error { return unix.Close(l.fd) }
