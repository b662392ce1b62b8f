package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SendFd passes fd over the unix socket sock with SCM_RIGHTS.
func SendFd(sock, fd int) error {
	if err := unix.Sendmsg(sock, []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send listener fd: %w", err)
	}
	return nil
}

// RecvFd receives one fd sent with SendFd. It fails if the peer closed the
// socket without sending one (the child died or failed before its filter was
// loaded).
func RecvFd(sock int) (int, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receive listener fd: %w", err)
	}
	if n == 0 && oobn == 0 {
		return -1, fmt.Errorf("receive listener fd: the child closed the socket without sending it")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return -1, fmt.Errorf("parse listener fd message: %w", err)
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for i := 1; i < len(fds); i++ {
			unix.Close(fds[i])
		}
		if len(fds) > 0 {
			return fds[0], nil
		}
	}
	return -1, fmt.Errorf("receive listener fd: message carried no fd")
}
