package sentry

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"sandbox/policy"
)

// The sends that can name a destination — sendto with an address, sendmsg
// and sendmmsg — are made by the supervisor with its own copy of everything
// the kernel would read from the program: the address, the iovec array, the
// payload and the control messages. A copy is the only TOCTOU-safe way: the
// kernel would read the program's memory again if the call were let
// through, and another thread may have changed msg_name (or the fd table)
// by then.
//
// The copy is handed to the kernel in the same shape the program gave —
// the same name length, the same number and lengths of iovecs, the same
// control bytes, the same flags — so the kernel's own checks give the
// program the errno it would have had. The supervisor checks itself only
// what fails before those (EBADF, ENOTSOCK, EFAULT, lengths) and what the
// policy decides. Where the program's own call would have failed partway,
// the copy fails at the same point: a payload that is unreadable from
// some byte on is copied so that the supervisor's send faults at that
// byte; a name the protocol refuses before it routes is handed to the
// kernel to refuse, in its own order of checks; and where the policy
// refuses a destination, the kernel is asked, with a send that cannot
// reach anyone, what it would have refused first.
//
// test/conformance/send.c holds all of it to Linux's behaviour.

// Limits of the copy.
const (
	// uioMaxIOV is UIO_MAXIOV: more iovecs are EMSGSIZE.
	uioMaxIOV = 1024
	// maxSendCopy bounds the payload one call copies. A stream socket
	// sends that much and returns the short count, as a stream send may;
	// a longer datagram is EMSGSIZE (every datagram protocol refuses one
	// this long anyway: UDP and raw at 64 KiB, unix and netlink at their
	// send buffer).
	maxSendCopy = 4 << 20
	// maxControl bounds the control buffer; the kernel's own bound,
	// net.core.optmem_max, is far below it (ENOBUFS either way).
	maxControl = 1 << 20
	// maxRWCount is MAX_RW_COUNT: the kernel silently caps one call's
	// length to it.
	maxRWCount = 0x7ffff000
)

// sysSendto handles sendto(2) calls with an address: sendto(int fd, const
// void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t
// addrlen). The filter lets calls without an address run untrapped.
//
// Linux checks the buffer's range (access_ok: EFAULT), then the fd (EBADF,
// ENOTSOCK), then the address length (EINVAL) and copies the address
// (EFAULT), then hands over to the protocol.
func sysSendto(c *call) result {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	length := min(c.n.Args[2], maxRWCount)
	if !accessOK(c.n.Args[1], length) {
		return invalid(unix.EFAULT, "the buffer is outside the program's address space")
	}
	sock, si, err := c.socketArg(fd)
	if err != nil {
		return resultOf(err)
	}
	defer unix.Close(sock)
	m := &outMsg{sendto: true, iovs: []unix.RemoteIovec{{Base: uintptr(c.n.Args[1]), Len: int(length)}}}
	defer m.release()
	addrLen := int(int32(uint32(c.n.Args[5])))
	if m.name, err = c.readSendto(c.n.Args[4], addrLen, m); err != nil {
		return resultOf(err)
	}
	flags := int(uint32(c.n.Args[3]))
	return c.sendMessage(sock, si, m, flags)
}

// readSendto reads sendto's address, as readSockaddr does, and with it, in
// the same process_vm_readv, the payload of m (sendto's one buffer) when
// prepare would copy all of it: one system call fewer on every send (a
// send to an address is the call most often trapped). A payload not
// readable in full is left for prepare, which lays out its fault.
func (c *call) readSendto(ptr uint64, addrLen int, m *outMsg) ([]byte, error) {
	n := m.iovs[0].Len
	if addrLen <= 0 || addrLen > maxSockaddr || n == 0 || n > maxSendCopy {
		return c.readSockaddr(ptr, addrLen)
	}
	buf := make([]byte, addrLen+n)
	got, err := c.task.readv(buf, []unix.RemoteIovec{{Base: uintptr(ptr), Len: addrLen}, m.iovs[0]})
	if got < addrLen {
		return nil, readError("the address", err)
	}
	if got == len(buf) {
		m.data = buf[addrLen:]
	}
	return buf[:addrLen:addrLen], nil
}

// sysSendmsg handles sendmsg(2): sendmsg(int fd, const struct msghdr *msg,
// int flags).
func sysSendmsg(c *call) result {
	flags := int(uint32(c.n.Args[2]))
	sock, si, err := c.msgSocket(flags)
	if err != nil {
		return resultOf(err)
	}
	defer unix.Close(sock)
	m, errno, err := c.copyMsghdr(sock, c.n.Args[1])
	switch {
	case err != nil:
		return failClosed(err)
	case errno != 0:
		return invalid(errno, "malformed message header")
	}
	defer m.release()
	return c.sendMessage(sock, si, m, flags)
}

// msgSocket makes sendmsg's and sendmmsg's first checks, in Linux's order
// — the kernel's own MSG_CMSG_COMPAT flag is refused (EINVAL) before the
// fd is looked at — and duplicates the socket named by the first argument
// (see socketArg).
func (c *call) msgSocket(flags int) (int, sockInfo, error) {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	if flags&msgCmsgCompat != 0 {
		return -1, sockInfo{}, errInvalid(unix.EINVAL, "MSG_CMSG_COMPAT")
	}
	return c.socketArg(fd)
}

// sendMessage prepares one message and sends it when the policy allows:
// the end of sendto and sendmsg alike.
func (c *call) sendMessage(sock int, si sockInfo, m *outMsg, flags int) result {
	typ, err := sockType(sock)
	if err != nil {
		return failClosed(err)
	}
	if err := c.prepare(sock, si, typ, m); err != nil {
		return failClosed(err)
	}
	if !c.stillWaiting() {
		return gone
	}
	res, err := c.sendOne(sock, si, typ, m, flags)
	if err != nil {
		return failClosed(err)
	}
	return c.sendInterrupted(sock, res)
}

// sysSendmmsg handles sendmmsg(2): sendmmsg(int fd, struct mmsghdr *msgvec,
// unsigned int vlen, int flags). Like Linux it stops at the first message
// that fails — one the policy denies included — or that a stream sends
// only in part, and returns the number sent, or that message's error when
// it is the first; each sent message's length is written to its msg_len.
func sysSendmmsg(c *call) result {
	vec, vlen, flags := c.n.Args[1], uint32(c.n.Args[2]), int(uint32(c.n.Args[3]))
	sock, si, err := c.msgSocket(flags)
	if err != nil {
		return resultOf(err)
	}
	defer unix.Close(sock)
	typ, err := sockType(sock)
	if err != nil {
		return failClosed(err)
	}
	vlen = min(vlen, uioMaxIOV)
	sent := int64(0)
	failed := reply(0, 0) // vlen 0: nothing to send, 0 sent
	for i := range uint64(vlen) {
		res, short, err := c.sendEntry(sock, si, typ, vec+i*mmsghdrSize, flags, i == uint64(vlen)-1)
		if err != nil {
			return resultOf(err)
		}
		if res.kind != answered {
			if sent > 0 {
				return reply(sent, 0)
			}
			return c.sendInterrupted(sock, res)
		}
		if res.errno != 0 {
			failed = res
			break
		}
		sent++
		if short {
			break // a stream took only part of it: the batch ends there
		}
	}
	if sent > 0 {
		return reply(sent, 0)
	}
	return failed
}

// sendEntry copies, decides and sends the message of sendmmsg's vector
// entry at entry, and writes the length sent back to its msg_len, as the
// kernel does as it goes. short: a stream took only part of the message,
// and the batch ends there. An error ends the whole call (an answerError,
// or a failure that fails closed).
func (c *call) sendEntry(sock int, si sockInfo, typ int, entry uint64, flags int, last bool) (res result, short bool, err error) {
	m, e, err := c.copyMsghdr(sock, entry)
	if err != nil {
		return result{}, false, err
	}
	defer m.release()
	if e != 0 {
		if !c.stillWaiting() {
			return result{}, false, errGone
		}
		return invalid(e, "malformed message header"), false, nil
	}
	if err := c.prepare(sock, si, typ, m); err != nil {
		return result{}, false, err
	}
	if !c.stillWaiting() {
		return result{}, false, errGone
	}
	// Every message but the last is sent with MSG_BATCH, and with the
	// MSG_EOR of its own msg_flags.
	f := flags | int(m.flags)&unix.MSG_EOR
	if !last {
		f |= unix.MSG_BATCH
	}
	if res, err = c.sendOne(sock, si, typ, m, f); err != nil || !res.succeeded() {
		return res, false, err
	}
	if err := c.task.writeUint32(entry+msghdrSize, uint32(res.val)); err != nil {
		return reply(0, unix.EFAULT), false, nil
	}
	return res, res.val < int64(m.asked), nil
}

// sockType is sock's type (SO_TYPE), which a send needs to copy its
// message in (prepare) and to judge where it goes (sendOne): read once a
// call.
func sockType(sock int) (int, error) {
	typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return 0, fmt.Errorf("SO_TYPE: %w", err)
	}
	return typ, nil
}

// msgCmsgCompat is MSG_CMSG_COMPAT, the kernel's own flag for 32-bit
// callers, which sendmsg and sendmmsg refuse from a program (EINVAL).
const msgCmsgCompat = 0x80000000

// socketArg duplicates the program's fd and checks it is a socket, in
// Linux's order (EBADF, then ENOTSOCK), as sockfd_lookup does for every
// socket call but connect.
func (c *call) socketArg(fd int) (int, sockInfo, error) {
	sock, err := c.getfd(fd)
	if err != nil {
		return -1, sockInfo{}, err
	}
	si, err := sockInfoArg(sock)
	if err != nil {
		unix.Close(sock)
		return -1, sockInfo{}, err
	}
	return sock, si, nil
}

// sendOne decides and makes one send of prepared m on sock, a socket of
// type typ. An error is a failure of the supervisor's, which fails the
// call closed.
func (c *call) sendOne(sock int, si sockInfo, typ int, m *outMsg, flags int) (result, error) {
	// The kernel checks some sends against the sender's capabilities: a
	// netlink message (CAP_NET_ADMIN to change routes, addresses,
	// netfilter rules) and control messages such as SO_MARK. Made by the
	// supervisor they would carry its own — a confused deputy. Those
	// sends run with the program's credentials when they differ, on a
	// thread that is then discarded. (A unix socket's control messages
	// are checked against the program's own credentials by
	// translateControl, and need the supervisor's to be claimed.)
	asProgram := si.family == unix.AF_NETLINK || len(m.control) > 0 && si.family != unix.AF_UNIX
	var childCreds creds
	dirty := false
	if asProgram {
		var err error
		if childCreds, err = taskCreds(c.task.tid); err != nil {
			return result{}, err
		}
		dirty = !childCreds.equal(c.s.creds)
	}
	send := func(name []byte) func() (int64, unix.Errno) {
		return func() (int64, unix.Errno) {
			if dirty {
				if err := childCreds.assume(); err != nil {
					return 0, unix.EPERM // never more than the program may
				}
			}
			return c.sendPrepared(sock, m, name, flags)
		}
	}
	pass := func() (result, error) {
		c.quiet = true
		return c.run(dirty, send(m.name)), nil
	}
	if si.family == unix.AF_UNIX {
		c.rec.Proto = policy.Unix.String()
		// unix_*_sendmsg parse the control messages first (but a
		// seqpacket socket must be connected before that).
		if m.ctlErr != 0 && (typ != unix.SOCK_SEQPACKET || connected(sock)) {
			return invalid(m.ctlErr, "control message refused"), nil
		}
	}
	if m.name == nil {
		return pass()
	}
	switch si.family {
	case unix.AF_INET, unix.AF_INET6, unix.AF_SMC:
		ap, has, bad := sendDestIP(si, typ, flags, m.name)
		if has {
			bad = udpRefusal(sock, si, typ, flags, m, ap)
		}
		if bad != 0 {
			if kernelRefuses(si, typ) {
				// The kernel refuses the name too, in its own order
				// of checks, and sends nothing.
				return pass()
			}
			return invalid(bad, "malformed address for this socket"), nil
		}
		if !has {
			// The protocol never sends to this name (TCP without
			// MSG_FASTOPEN, AF_UNSPEC on UDP): the kernel ignores
			// it or fails the call.
			return pass()
		}
		dec, judged := c.decideIP(sock, ipProto(si), ap)
		if dec.Verdict != policy.Allow {
			return reply(0, deniedSend(sock, m, dec.Errno)), nil
		}
		return c.run(dirty, send(pinAddr(m.name, si.family, judged))), nil
	case unix.AF_UNIX:
		d := decodeSockaddr(m.name)
		if typ != unix.SOCK_DGRAM || d.kind != destUnixPath && d.kind != destUnixAbstract {
			// Stream sockets refuse a name (EISCONN, EOPNOTSUPP),
			// seqpacket ones ignore it, a datagram socket takes one
			// of length 0 for none and refuses a malformed one
			// (unix_validate_addr): the kernel never sends to it.
			return pass()
		}
		if d.kind == destUnixPath {
			reached := false
			res := c.atUnixPath(d.unix, func(target int) (int64, unix.Errno) {
				reached = true
				if m.claims {
					// The lookup and the socket's write permission are
					// the program's; the credentials it claims were
					// checked against its own, and are the supervisor's
					// to claim.
					if err := raiseClaimCaps(); err != nil {
						return 0, unix.EPERM
					}
				}
				return c.sendPrepared(sock, m, fdSockaddr(target), flags)
			})
			if res.kind == answered && !reached {
				// Nothing was sent: the kernel may have refused
				// the send for another reason first.
				before := c.beforeLookup(sock, m, flags, res.errno)
				before.verdict, before.reason = res.verdict, res.reason
				return before, nil
			}
			return res, nil
		}
		c.rec.Dest = "@" + d.unix
		dec := c.decide(policy.Request{Proto: policy.Unix, Unix: "@" + d.unix})
		if dec.Verdict != policy.Allow {
			return c.beforeLookup(sock, m, flags, dec.Errno), nil
		}
		return c.run(dirty, send(m.name)), nil
	case unix.AF_NETLINK, unix.AF_PACKET:
		// Netlink reaches this machine's kernel; packet sockets exist
		// only where they see nothing but the sandbox's own namespace
		// (the filter refuses them in host mode).
		return pass()
	}
	return c.uncovered(si.family, deniedSend(sock, m, c.pol.Errno)), nil
}

// deniedSend is the answer to a send the policy refused: errno, but for a
// control buffer too large for the socket's option memory (ENOBUFS), which
// ____sys_sendmsg finds before the protocol looks at any destination.
func deniedSend(sock int, m *outMsg, errno unix.Errno) unix.Errno {
	if len(m.ctl) > 0 && controlFault(sock, uint64(len(m.ctl))) == unix.ENOBUFS {
		return unix.ENOBUFS
	}
	return errno
}

// connected reports whether sock has a peer.
func connected(sock int) bool {
	_, err := unix.Getpeername(sock)
	return err == nil
}

// beforeLookup is the answer to a unix datagram send whose name the
// supervisor looked up, or put to the policy, without sending — errno is
// what that gave. unix_dgram_sendmsg checks the control messages, the
// flags, the length and the payload, and waits for room in the send
// buffer, all before it looks the name up: the kernel says what those
// give when the same send is made to "/", which it looks up only to find
// no socket there (ECONNREFUSED; EACCES for a caller that may not write to
// the root directory) — that is, nothing is sent. Any other result is
// the program's, ahead of errno.
func (c *call) beforeLookup(sock int, m *outMsg, flags int, errno unix.Errno) result {
	root := []byte{0, 0, '/', 0}
	binary.NativeEndian.PutUint16(root, unix.AF_UNIX)
	res := c.run(false, func() (int64, unix.Errno) { return c.sendPrepared(sock, m, root, flags) })
	switch {
	case res.kind != answered:
		return res
	case res.errno == unix.ECONNREFUSED || res.errno == unix.EACCES:
		return reply(0, errno)
	case res.errno == 0:
		// "/" is a directory: this cannot be. Say nothing was sent.
		return reply(0, unix.ECONNREFUSED)
	}
	return reply(0, res.errno)
}

// sendInterrupted is the result of a send on sock, res, once an
// interruption is settled: a send interrupted by a signal is restarted or
// fails with EINTR as the handler asks (see deliver) — but a socket with a
// send timeout (SO_SNDTIMEO) always fails with EINTR (sock_intr_errno),
// whatever the handler asks.
func (c *call) sendInterrupted(sock int, res result) result {
	if res.kind != interrupted || !c.interruptedForSignal() {
		return res
	}
	if tv, err := unix.GetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_SNDTIMEO); err == nil && (tv.Sec != 0 || tv.Usec != 0) {
		return reply(0, unix.EINTR).because("interrupted by a signal: EINTR, as for every send with a timeout")
	}
	return res
}

// raiseClaimCaps makes effective again, on a thread that took the
// program's capabilities (creds.assume), the supervisor's capabilities
// that claiming credentials needs (scm_check_creds: CAP_SYS_ADMIN for
// another pid, CAP_SETUID, CAP_SETGID): the claim was checked against the
// program's own by translateCreds. None of them counts in a path lookup or
// a permission check. A thread that has them effective already is left
// alone.
func raiseClaimCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	want := data[0].Permitted & (1<<unix.CAP_SETUID | 1<<unix.CAP_SETGID | 1<<unix.CAP_SYS_ADMIN)
	if data[0].Effective&want == want {
		return nil
	}
	data[0].Effective |= want
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// sendPrepared sends prepared m on sock with name (nil for none), with the
// program's flags. It runs as an op of run: it may block, and the monitor
// may interrupt it.
func (c *call) sendPrepared(sock int, m *outMsg, name []byte, flags int) (int64, unix.Errno) {
	if m.tooLong {
		return 0, unix.EMSGSIZE
	}
	if m.ctlErr != 0 {
		return 0, m.ctlErr
	}
	// The supervisor must not take SIGPIPE for the program: it asks for
	// EPIPE and passes the signal on below, as the kernel would.
	sendFlags := flags | unix.MSG_NOSIGNAL
	var data unsafe.Pointer
	if m.total > 0 {
		data = unsafe.Pointer(&m.data[0])
	}
	var empty [1]byte
	nameP := unsafe.Pointer(&empty[0]) // an address of length 0 is still an address to sendto
	if len(name) > 0 {
		nameP = unsafe.Pointer(&name[0])
	}
	var n uintptr
	var e unix.Errno
	if m.sendto && len(m.ctl) == 0 {
		// sendto itself, as the program called it: unlike sendmsg it
		// knows no MSG_CMSG_COMPAT, and an address of length 0 is an
		// address (of length 0) to the protocol.
		n, _, e = unix.Syscall6(unix.SYS_SENDTO, uintptr(sock), uintptr(data), uintptr(m.total), uintptr(sendFlags), uintptr(nameP), uintptr(len(name)))
	} else {
		if m.sendto {
			sendFlags &^= msgCmsgCompat // sendto passes it on; sendmsg would refuse it
		}
		// Our iovecs have the program's lengths, over one buffer.
		local := make([]unix.Iovec, len(m.local)+1) // +1: never empty, so &local[0] is valid
		off := 0
		for i, v := range m.local {
			if v.Len > 0 {
				local[i].Base = &m.data[off]
			}
			local[i].SetLen(v.Len)
			off += v.Len
		}
		var hdr unix.Msghdr
		if len(m.local) > 0 {
			hdr.Iov = &local[0]
			hdr.SetIovlen(len(m.local))
		}
		if len(name) > 0 {
			hdr.Name = (*byte)(nameP)
			hdr.Namelen = uint32(len(name))
		}
		if len(m.ctl) > 0 {
			hdr.Control = &m.ctl[0]
			hdr.SetControllen(len(m.ctl))
		}
		hdr.Flags = m.flags
		n, _, e = unix.Syscall(unix.SYS_SENDMSG, uintptr(sock), uintptr(unsafe.Pointer(&hdr)), uintptr(sendFlags))
		runtime.KeepAlive(local)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(name)
	if e == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		c.task.signalPipe()
	}
	if e != 0 {
		return 0, e
	}
	return int64(n), 0
}
