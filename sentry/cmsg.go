package sentry

import (
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// translateControl prepares the program's control messages for the
// supervisor's own send on sock. Two of them name things by the sender's
// view, which the supervisor does not share:
//
//   - SCM_RIGHTS lists file descriptors of the program's table: each is
//     duplicated into the supervisor's (pidfd_getfd), so the same files
//     travel; a closed one is EBADF, as the kernel's fget would say.
//   - SCM_CREDENTIALS claims a pid, uid and gid, which the kernel checks
//     against the sender — the supervisor, which may be root and could
//     claim anything: the claim is first checked against the program's
//     own ids, as scm_check_creds would (EPERM), and the pid becomes the
//     supervisor's when the supervisor could not claim the program's
//     (it is the sender the receiver sees either way, SO_PASSCRED).
//
// Only unix sockets carry either; other families refuse them, and get the
// bytes unchanged so the kernel does. Malformed messages are left for the
// kernel to refuse the same way. closeFds closes the duplicates.
func (c *call) translateControl(sock int, control []byte) (out []byte, closeFds func(), errno unix.Errno) {
	var fds []int
	closeFds = func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	if len(control) == 0 {
		return control, closeFds, 0
	}
	family, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, closeFds, unix.EACCES // fail closed: unknown socket
	}
	if family == unix.AF_INET || family == unix.AF_INET6 {
		if routesBySource(control) {
			return nil, closeFds, unix.EPERM
		}
		return control, closeFds, 0
	}
	if family != unix.AF_UNIX {
		return control, closeFds, 0
	}
	out = slices.Clone(control)
	ne := binary.NativeEndian
	const hdrLen = unix.SizeofCmsghdr // 16: len (size_t), level, type
	for off := 0; off+hdrLen <= len(out); {
		l := int(ne.Uint64(out[off:]))
		if l < hdrLen || l > len(out)-off {
			break // the kernel's CMSG_OK fails: EINVAL, from it
		}
		level, typ := int32(ne.Uint32(out[off+8:])), int32(ne.Uint32(out[off+12:]))
		data := out[off+hdrLen : off+l]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				for i := 0; i+4 <= len(data); i += 4 {
					fd := int(int32(ne.Uint32(data[i:])))
					if fd < 0 {
						return nil, closeFds, unix.EBADF
					}
					dup, err := unix.PidfdGetfd(c.task.pidfd, fd, 0)
					if err != nil {
						return nil, closeFds, unix.EBADF
					}
					fds = append(fds, dup)
					ne.PutUint32(data[i:], uint32(dup))
				}
			case unix.SCM_CREDENTIALS:
				if len(data) == unix.SizeofUcred {
					if e := c.translateCreds(data); e != 0 {
						return nil, closeFds, e
					}
				}
			}
		}
		off += (l + 7) &^ 7 // CMSG_ALIGN
	}
	return out, closeFds, 0
}

// routesBySource reports whether control holds a message that can source
// route the packet — IPv4 options (IP_RETOPTS, which may hold a source
// route) or an IPv6 routing header — and so send it first to a host the
// policy did not judge (see filterRules). It looks at every well-formed
// message; the kernel refuses malformed ones itself.
func routesBySource(control []byte) bool {
	ne := binary.NativeEndian
	const hdrLen = unix.SizeofCmsghdr
	for off := 0; off+hdrLen <= len(control); {
		l := int(ne.Uint64(control[off:]))
		if l < hdrLen || l > len(control)-off {
			return false
		}
		level, typ := int32(ne.Uint32(control[off+8:])), int32(ne.Uint32(control[off+12:]))
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_RETOPTS,
			level == unix.IPPROTO_IPV6 && (typ == unix.IPV6_RTHDR || typ == unix.IPV6_2292RTHDR):
			return true
		}
		off += (l + 7) &^ 7
	}
	return false
}

// translateCreds checks a struct ucred the program claims (in place) and
// rewrites its pid where the supervisor must send its own.
func (c *call) translateCreds(data []byte) unix.Errno {
	ne := binary.NativeEndian
	pid, uid, gid := int(int32(ne.Uint32(data[0:]))), int(ne.Uint32(data[4:])), int(ne.Uint32(data[8:]))
	ids, err := readTaskIDs(c.task.tid)
	if err != nil || pid != ids.tgid || !slices.Contains(ids.uids[:], uid) || !slices.Contains(ids.gids[:], gid) {
		return unix.EPERM
	}
	if os.Geteuid() != 0 {
		ne.PutUint32(data[0:], uint32(os.Getpid()))
	}
	return 0
}

// taskIDs are a thread's process id and its real, effective and saved
// user and group ids.
type taskIDs struct {
	tgid       int
	uids, gids [3]int
}

func readTaskIDs(tid int) (taskIDs, error) {
	var ids taskIDs
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return ids, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, val, _ := strings.Cut(line, ":")
		f := strings.Fields(val)
		switch key {
		case "Tgid":
			if len(f) > 0 {
				ids.tgid, _ = strconv.Atoi(f[0])
			}
		case "Uid", "Gid":
			dst := &ids.uids
			if key == "Gid" {
				dst = &ids.gids
			}
			for i := 0; i < 3 && i < len(f); i++ {
				dst[i], _ = strconv.Atoi(f[i])
			}
		}
	}
	return ids, nil
}
