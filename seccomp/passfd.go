package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SendFds passes fds over the unix socket sock with SCM_RIGHTS, in one
// message.
func SendFds(sock int, fds ...int) error {
	if err := unix.Sendmsg(sock, []byte{0}, unix.UnixRights(fds...), nil, 0); err != nil {
		return fmt.Errorf("send fds: %w", err)
	}
	return nil
}

// RecvFds receives the fds of one SendFds message; want is how many it
// must carry. It fails if the peer closed the socket without sending them
// (the child died or failed before its filter was loaded).
func RecvFds(sock, want int) ([]int, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*want))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive fds: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, fmt.Errorf("receive fds: the child closed the socket without sending them")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("parse fds message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	if len(fds) != want {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive fds: got %d, want %d", len(fds), want)
	}
	return fds, nil
}
