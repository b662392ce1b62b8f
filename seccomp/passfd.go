package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The listener crosses from the process that loaded the filter to the
// supervisor without SCM_RIGHTS: once the filter is loaded, that process's
// own sendmsg is trapped, and no one could answer it before the supervisor
// holds the listener. So the process offers the descriptor numbers with a
// plain write, and the supervisor takes the files with pidfd_getfd, which
// it needs for every trapped call anyway.

// offerMark starts an offer; a failing process writes a NUL instead.
const offerMark = 1

// OfferFds tells the peer of the unix socket sock which of this process's
// descriptors to take, and waits until it has taken them.
func OfferFds(sock int, fds ...int) error {
	msg := []byte{offerMark, byte(len(fds))}
	for _, fd := range fds {
		msg = binary.NativeEndian.AppendUint32(msg, uint32(fd))
	}
	if err := writeFull(sock, msg); err != nil {
		return fmt.Errorf("offer fds: %w", err)
	}
	var ack [1]byte
	if err := readFull(sock, ack[:]); err != nil {
		return fmt.Errorf("offer fds: no answer: %w", err)
	}
	return nil
}

// TakeFds takes the descriptors process pid offers over sock (OfferFds);
// want is how many it must offer. It fails if the process wrote anything
// else — a failure message, which the caller can then read — or closed the
// socket (it died before loading its filter).
func TakeFds(sock, pid, want int) ([]int, error) {
	var head [2]byte
	if err := readFull(sock, head[:1]); err != nil {
		return nil, fmt.Errorf("take fds: %w", err)
	}
	if head[0] != offerMark {
		return nil, errors.New("take fds: the init step failed instead")
	}
	if err := readFull(sock, head[1:]); err != nil {
		return nil, fmt.Errorf("take fds: %w", err)
	}
	if int(head[1]) != want {
		return nil, fmt.Errorf("take fds: offered %d, want %d", head[1], want)
	}
	nums := make([]byte, 4*want)
	if err := readFull(sock, nums); err != nil {
		return nil, fmt.Errorf("take fds: %w", err)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("take fds: pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	fds := make([]int, 0, want)
	for i := range want {
		fd, err := unix.PidfdGetfd(pidfd, int(binary.NativeEndian.Uint32(nums[4*i:])), 0)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("take fds: pidfd_getfd: %w", err)
		}
		fds = append(fds, fd)
	}
	if err := writeFull(sock, []byte{0}); err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("take fds: answer: %w", err)
	}
	return fds, nil
}

func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("the peer closed the socket")
		}
		b = b[n:]
	}
	return nil
}
