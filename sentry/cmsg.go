package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// translateControl prepares a message's control bytes for the
// supervisor's own send on a socket of family. Two control messages name
// things by the sender's view, which the supervisor does not share:
//
//   - SCM_RIGHTS lists file descriptors of the program's table: each is
//     duplicated into the supervisor's (pidfd_getfd), so the same files
//     travel; a closed one is EBADF, as the kernel's fget would say, and
//     more than SCM_MAX_FD in all is EINVAL, before any is looked at.
//   - SCM_CREDENTIALS claims a pid, uid and gid, which the kernel checks
//     against the sender — the supervisor, which may be root and could
//     claim anything: the claim is first checked against the program's
//     own ids and capabilities, as scm_check_creds would (EINVAL, EPERM),
//     and the pid becomes the supervisor's when the supervisor could not
//     claim the program's (it is the sender the receiver sees either way,
//     SO_PASSCRED).
//
// A unix message without SCM_CREDENTIALS carries the sender's credentials
// all the same, for a receiver with SO_PASSCRED or SO_PASSPIDFD: the
// supervisor's, were they not claimed. So where the supervisor may claim
// any (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID), every unix message starts
// with an SCM_CREDENTIALS of the program's pid and real uid and gid — what
// the kernel itself would have attached to the program's own send; one of
// the program's own, further on, overrides it as it would have.
//
// The messages are parsed and translated in the kernel's order
// (__scm_send), and the first that fails — malformed, or of a type the
// kernel refuses, included (EINVAL) — decides errno, which the caller
// reports where the protocol would parse them. The kernel is never handed
// a message it would read that was not translated: a file descriptor
// number of the program's would name one of the supervisor's. Only unix
// sockets carry either message; other families get the bytes unchanged,
// for the kernel to judge (inet sockets ignore both, netlink refuses
// SCM_RIGHTS), but for the source routes the sandbox refuses (EPERM).
// claims reports that the result carries credentials the kernel checks
// against the sender's (see raiseClaimCaps). closeFds closes the
// duplicates.
func (c *call) translateControl(family int, control []byte) (out []byte, closeFds func(), errno unix.Errno, claims bool, err error) {
	var fds []int
	closeFds = func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	if family == unix.AF_INET || family == unix.AF_INET6 {
		if routesBySource(control) {
			return nil, closeFds, unix.EPERM, false, nil
		}
		return control, closeFds, 0, false, nil
	}
	if family != unix.AF_UNIX {
		return control, closeFds, 0, false, nil
	}
	ids, err := taskCreds(c.task.tid)
	if err != nil {
		return nil, closeFds, 0, false, fmt.Errorf("read the program's ids: %w", err)
	}
	var prefix []byte
	if c.s.creds.capEff&claimCaps == claimCaps {
		prefix = credsMessage(ids.tgid, ids.uids[0], ids.gids[0])
		claims = true
	}
	out = append(prefix, control...)
	ne := binary.NativeEndian
	const hdrLen = unix.SizeofCmsghdr // 16: len (size_t), level, type
	const scmMaxFD = 253              // SCM_MAX_FD
	const scmPidfd = 0x04             // SCM_PIDFD: flags for the receiver's pidfd, checked by the kernel
	passed := 0
	for off := len(prefix); off+hdrLen <= len(out); {
		l := ne.Uint64(out[off:])
		if l < hdrLen || l > uint64(len(out)-off) {
			return nil, closeFds, unix.EINVAL, claims, nil // __scm_send: !CMSG_OK
		}
		level, typ := int32(ne.Uint32(out[off+8:])), int32(ne.Uint32(out[off+12:]))
		data := out[off+hdrLen : off+int(l)]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				n := len(data) / 4
				if n > 0 && passed+n > scmMaxFD {
					return nil, closeFds, unix.EINVAL, claims, nil
				}
				passed += n
				for i := 0; i < 4*n; i += 4 {
					fd := int(int32(ne.Uint32(data[i:])))
					if fd < 0 {
						return nil, closeFds, unix.EBADF, claims, nil
					}
					dup, err := unix.PidfdGetfd(c.task.pidfd, fd, 0)
					if errors.Is(err, unix.EBADF) {
						return nil, closeFds, unix.EBADF, claims, nil
					}
					if err != nil {
						return nil, closeFds, 0, claims, fmt.Errorf("take fd %d to pass it: %w", fd, err)
					}
					fds = append(fds, dup)
					ne.PutUint32(data[i:], uint32(dup))
				}
			case unix.SCM_CREDENTIALS:
				if len(data) != unix.SizeofUcred {
					return nil, closeFds, unix.EINVAL, claims, nil
				}
				if e := c.translateCreds(ids, data); e != 0 {
					return nil, closeFds, e, claims, nil
				}
				claims = true
			case scmPidfd:
			default:
				return nil, closeFds, unix.EINVAL, claims, nil // __scm_send knows no other
			}
		}
		off += int((l + 7) &^ 7) // CMSG_ALIGN
	}
	return out, closeFds, 0, claims, nil
}

// claimCaps are the capabilities with which the kernel lets a sender claim
// any credentials (scm_check_creds).
const claimCaps = 1<<unix.CAP_SYS_ADMIN | 1<<unix.CAP_SETUID | 1<<unix.CAP_SETGID

// credsMessage is an SCM_CREDENTIALS control message claiming pid, uid
// and gid, padded to CMSG_SPACE.
func credsMessage(pid, uid, gid int) []byte {
	ne := binary.NativeEndian
	b := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	ne.PutUint64(b[0:], uint64(unix.CmsgLen(unix.SizeofUcred)))
	ne.PutUint32(b[8:], unix.SOL_SOCKET)
	ne.PutUint32(b[12:], unix.SCM_CREDENTIALS)
	ne.PutUint32(b[16:], uint32(pid))
	ne.PutUint32(b[20:], uint32(uid))
	ne.PutUint32(b[24:], uint32(gid))
	return b
}

// routesBySource reports whether control holds a message that can source
// route the packet — IPv4 options (IP_RETOPTS, which may hold a source
// route) or an IPv6 routing header — and so send it first to a host the
// policy did not judge (see FilterRules). It looks at every well-formed
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

// translateCreds checks a struct ucred the program claims (in place), as
// scm_check_creds would against the program: ids the kernel cannot map
// are EINVAL; the pid must be the program's, the uid one of its real,
// effective and saved uids, the gid likewise, but for a program with
// CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID respectively (EPERM). It
// rewrites the pid where the supervisor must send its own.
//
// The ids are compared as the supervisor sees them (/proc), which is how
// the program sees them where both share their namespaces (--net host).
func (c *call) translateCreds(ids creds, data []byte) unix.Errno {
	ne := binary.NativeEndian
	pid, uid, gid := int(int32(ne.Uint32(data[0:]))), ne.Uint32(data[4:]), ne.Uint32(data[8:])
	if uid == ^uint32(0) || gid == ^uint32(0) {
		return unix.EINVAL // make_kuid: no such id
	}
	has := func(cap uint) bool { return ids.capEff&(1<<cap) != 0 }
	if pid != ids.tgid && !has(unix.CAP_SYS_ADMIN) ||
		!slices.Contains(ids.uids[:], int(uid)) && !has(unix.CAP_SETUID) ||
		!slices.Contains(ids.gids[:], int(gid)) && !has(unix.CAP_SETGID) {
		return unix.EPERM
	}
	if c.s.creds.capEff&(1<<unix.CAP_SYS_ADMIN) == 0 && pid == ids.tgid {
		ne.PutUint32(data[0:], uint32(os.Getpid()))
	}
	return 0
}
