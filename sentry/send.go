package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
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
func sysSendto(c *call) {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	length := min(c.n.Args[2], maxRWCount)
	if !accessOK(c.n.Args[1], length) {
		c.invalid(unix.EFAULT, "the buffer is outside the program's address space")
		return
	}
	sock, si, ok := c.socketArg(fd)
	if !ok {
		return
	}
	defer unix.Close(sock)
	addrLen := int(int32(uint32(c.n.Args[5])))
	name, ok := c.readSockaddr(c.n.Args[4], addrLen)
	if !ok {
		return
	}
	m := &outMsg{sendto: true, name: name, iovs: []unix.RemoteIovec{{Base: uintptr(c.n.Args[1]), Len: int(length)}}}
	defer m.release()
	flags := int(uint32(c.n.Args[3]))
	c.sendAndAnswer(sock, si, m, flags)
}

// sysSendmsg handles sendmsg(2): sendmsg(int fd, const struct msghdr *msg,
// int flags).
func sysSendmsg(c *call) {
	flags := int(uint32(c.n.Args[2]))
	sock, si, ok := c.msgSocket(flags)
	if !ok {
		return
	}
	defer unix.Close(sock)
	m, errno, err := c.copyMsghdr(sock, c.n.Args[1])
	switch {
	case err != nil:
		c.failClosed(err)
		return
	case errno != 0:
		c.invalid(errno, "malformed message header")
		return
	}
	defer m.release()
	c.sendAndAnswer(sock, si, m, flags)
}

// msgSocket makes sendmsg's and sendmmsg's first checks, in Linux's order
// — the kernel's own MSG_CMSG_COMPAT flag is refused (EINVAL) before the
// fd is looked at — and duplicates the socket named by the first argument
// (see socketArg).
func (c *call) msgSocket(flags int) (int, sockInfo, bool) {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	if flags&msgCmsgCompat != 0 {
		c.invalid(unix.EINVAL, "MSG_CMSG_COMPAT")
		return -1, sockInfo{}, false
	}
	return c.socketArg(fd)
}

// sendAndAnswer prepares one message, sends it when the policy allows and
// answers the program: the end of sendto and sendmsg alike.
func (c *call) sendAndAnswer(sock int, si sockInfo, m *outMsg, flags int) {
	if !c.prepare(sock, si, m) || !c.stillWaiting() {
		return
	}
	val, errno, aborted, ok := c.sendOne(sock, si, m, flags)
	if ok {
		c.answerSend(sock, val, errno, aborted)
	}
}

// sysSendmmsg handles sendmmsg(2): sendmmsg(int fd, struct mmsghdr *msgvec,
// unsigned int vlen, int flags). Like Linux it stops at the first message
// that fails — one the policy denies included — or that a stream sends
// only in part, and returns the number sent, or that message's error when
// it is the first; each sent message's length is written to its msg_len.
func sysSendmmsg(c *call) {
	vec, vlen, flags := c.n.Args[1], uint32(c.n.Args[2]), int(uint32(c.n.Args[3]))
	sock, si, ok := c.msgSocket(flags)
	if !ok {
		return
	}
	defer unix.Close(sock)
	vlen = min(vlen, uioMaxIOV)
	sent := int64(0)
	var errno unix.Errno
	for i := range uint64(vlen) {
		entry := vec + i*mmsghdrSize
		m, e, err := c.copyMsghdr(sock, entry)
		if err != nil {
			c.failClosed(err)
			return
		}
		if e == 0 && !c.prepare(sock, si, m) {
			m.release()
			return
		}
		if !c.stillWaiting() {
			m.release()
			return
		}
		var n int64
		if e == 0 {
			// Every message but the last is sent with MSG_BATCH, and
			// with the MSG_EOR of its own msg_flags.
			f := flags | int(m.flags)&unix.MSG_EOR
			if i < uint64(vlen)-1 {
				f |= unix.MSG_BATCH
			}
			var aborted, ok bool
			n, e, aborted, ok = c.sendOne(sock, si, m, f)
			if !ok {
				m.release()
				return // answered
			}
			if aborted {
				m.release()
				if sent > 0 {
					c.respond(sent, 0)
				} else {
					c.answerSend(sock, 0, e, true)
				}
				return
			}
		}
		short := e == 0 && n < int64(m.asked)
		m.release()
		if e != 0 {
			errno = e
			break
		}
		// The kernel writes each message's length back as it goes.
		if err := c.task.writeUint32(entry+msghdrSize, uint32(n)); err != nil {
			errno = unix.EFAULT
			break
		}
		sent++
		if short {
			break // a stream took only part of it: the batch ends there
		}
	}
	if sent > 0 {
		c.respond(sent, 0)
		return
	}
	c.respond(0, errno)
}

// msgCmsgCompat is MSG_CMSG_COMPAT, the kernel's own flag for 32-bit
// callers, which sendmsg and sendmmsg refuse from a program (EINVAL).
const msgCmsgCompat = 0x80000000

// socketArg duplicates the program's fd and checks it is a socket, in
// Linux's order (EBADF, then ENOTSOCK), as sockfd_lookup does for every
// socket call but connect. ok is false when the call has been answered.
func (c *call) socketArg(fd int) (int, sockInfo, bool) {
	sock, ok := c.getfd(fd)
	if !ok {
		return -1, sockInfo{}, false
	}
	si, err := sockInfoOf(sock)
	if err != nil {
		unix.Close(sock)
		if errors.Is(err, unix.ENOTSOCK) {
			c.invalid(unix.ENOTSOCK, "not a socket")
		} else {
			c.failClosed(err)
		}
		return -1, sockInfo{}, false
	}
	return sock, si, true
}

// readFailed answers a call whose argument could not be read.
func (c *call) readFailed(what string, err error) {
	if errors.Is(err, unix.EFAULT) {
		c.invalid(unix.EFAULT, what+" not readable")
		return
	}
	c.failClosed(fmt.Errorf("read %s: %w", what, err))
}

// userLimit is where the user half of the address space ends: the
// kernel's access_ok refuses a range that reaches past it, whether or not
// anything is mapped there. It is TASK_SIZE_MAX, which depends on the
// paging mode; the kernel itself says which (see probeUserLimit).
var userLimit = sync.OnceValue(probeUserLimit)

// probeUserLimit asks the kernel where user space ends: sendto checks its
// buffer with access_ok before it looks at the fd, so on fd -1 it fails
// with EFAULT for a range access_ok refuses and with EBADF otherwise.
// Unknown (neither 4- nor 5-level paging's limit) means no range is
// refused here, and only a copy's own fault says EFAULT.
func probeUserLimit() uint64 {
	ok := func(p, n uint64) bool {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, ^uintptr(0), uintptr(p), uintptr(n), 0, 0, 0)
		return e == unix.EBADF
	}
	for _, limit := range []uint64{0x7ffffffff000, 0xfffffffffff000} {
		if ok(limit, 0) && !ok(limit, 1) {
			return limit
		}
	}
	return ^uint64(0)
}

// accessOK is the kernel's access_ok(ptr, n) for a range of the program's.
func accessOK(ptr, n uint64) bool {
	end := ptr + n
	return end >= ptr && end <= userLimit()
}

// outMsg is one message as the program described it, and, once prepared,
// the supervisor's copy of its payload and control messages.
type outMsg struct {
	sendto  bool   // made by sendto: one buffer, and an address of length 0 is still an address
	name    []byte // nil: no name; as long as msg_namelen once the kernel has capped it
	iovs    []unix.RemoteIovec
	control []byte
	flags   int32 // msg_flags

	// Set by prepare.
	asked   int                // the payload's length, as the kernel counts it
	total   int                // how much of it the supervisor sends (maxSendCopy at most)
	tooLong bool               // a datagram longer than maxSendCopy: EMSGSIZE
	data    []byte             // the payload, laid out as the iovecs say
	local   []unix.RemoteIovec // iovs, over data
	ctl     []byte             // control, translated for the supervisor's send
	ctlErr  unix.Errno         // what translating it met (see translateControl)
	claims  bool               // ctl carries credentials the kernel checks against the sender
	undo    []func()           // releases data's mapping and ctl's descriptors
}

// release frees what prepare took (nothing, for a nil m).
func (m *outMsg) release() {
	if m == nil {
		return
	}
	for _, f := range m.undo {
		f()
	}
	m.undo = nil
}

// copyMsghdr copies the struct msghdr at addr, its name, its iovec array
// and its control bytes, with Linux's checks in Linux's order
// (__copy_msghdr, import_iovec, ____sys_sendmsg). errno is the program's
// error; err a failure of the supervisor's own. sock is the program's
// socket: whether a control buffer is too large for it (ENOBUFS) comes
// before its copy.
func (c *call) copyMsghdr(sock int, addr uint64) (*outMsg, unix.Errno, error) {
	read := func(ptr uint64, n int) ([]byte, unix.Errno, error) {
		b, err := c.task.read(ptr, n)
		if errors.Is(err, unix.EFAULT) {
			return nil, unix.EFAULT, nil
		}
		return b, 0, err
	}
	hdr, errno, err := read(addr, msghdrSize)
	if errno != 0 || err != nil {
		return nil, errno, err
	}
	h := decodeMsghdr(hdr)
	namePtr, nameLen := h.name, h.nameLen
	iovPtr, iovLen := h.iov, h.iovLen
	ctlPtr, ctlLen := h.control, h.controlLen
	m := &outMsg{flags: h.flags}

	if namePtr == 0 {
		nameLen = 0
	}
	if nameLen < 0 {
		return nil, unix.EINVAL, nil
	}
	nameLen = min(nameLen, maxSockaddr)
	if nameLen > 0 {
		if m.name, errno, err = read(namePtr, int(nameLen)); errno != 0 || err != nil {
			return nil, errno, err
		}
	}

	if iovLen > uioMaxIOV {
		return nil, unix.EMSGSIZE, nil
	}
	if m.iovs, errno, err = c.copyIovecs(iovPtr, int(iovLen)); errno != 0 || err != nil {
		return nil, errno, err
	}

	if ctlLen > 0x7fffffff || ctlLen > maxControl {
		return nil, unix.ENOBUFS, nil
	}
	if ctlLen > 0 {
		if m.control, errno, err = read(ctlPtr, int(ctlLen)); err != nil {
			return nil, 0, err
		}
		if errno != 0 {
			return nil, controlFault(sock, ctlLen), nil
		}
	}
	return m, 0, nil
}

// copyIovecs copies n iovecs at ptr as import_iovec does: the array's
// range (EFAULT), each length in order (EINVAL for a negative one, EFAULT
// where the array stops being readable), then each buffer's range
// (access_ok: EFAULT, even for a length of 0). The lengths are capped so
// that the whole stays within MAX_RW_COUNT; a single iovec is capped
// before its range is checked (import_ubuf), several after.
func (c *call) copyIovecs(ptr uint64, n int) ([]unix.RemoteIovec, unix.Errno, error) {
	if n == 0 {
		return nil, 0, nil
	}
	if !accessOK(ptr, uint64(n)*iovecSize) {
		return nil, unix.EFAULT, nil
	}
	raw, err := c.task.read(ptr, n*iovecSize)
	if errors.Is(err, unix.EFAULT) {
		// Find where the array stops being readable: a negative
		// length before that point is EINVAL.
		raw = nil
		for i := range n {
			b, err := c.task.read(ptr+uint64(iovecSize*i), iovecSize)
			if errors.Is(err, unix.EFAULT) {
				break
			}
			if err != nil {
				return nil, 0, err
			}
			raw = append(raw, b...)
		}
	} else if err != nil {
		return nil, 0, err
	}
	for i := 0; i+iovecSize <= len(raw); i += iovecSize {
		if _, l := decodeIovec(raw[i:]); int64(l) < 0 {
			return nil, unix.EINVAL, nil
		}
	}
	if len(raw) < n*iovecSize {
		return nil, unix.EFAULT, nil
	}
	iovs := make([]unix.RemoteIovec, n)
	total := uint64(0)
	for i := range iovs {
		base, l := decodeIovec(raw[iovecSize*i:])
		if n == 1 {
			l = min(l, maxRWCount)
		}
		if !accessOK(base, l) {
			return nil, unix.EFAULT, nil
		}
		l = min(l, maxRWCount-total)
		total += l
		iovs[i] = unix.RemoteIovec{Base: uintptr(base), Len: int(l)}
	}
	return iovs, 0, nil
}

// controlFault is what the kernel answers a control buffer of n bytes it
// cannot read: it allocates room for one larger than its stack buffer
// first, from the socket's option memory (ENOBUFS when that is short),
// and only then copies (EFAULT). The kernel says which, asked on the
// program's socket with a control pointer of NULL: it fails one way or
// the other and sends nothing.
func controlFault(sock int, n uint64) unix.Errno {
	const stackCtl = unix.SizeofCmsghdr + 20 // ____sys_sendmsg's ctl[]: a cmsghdr and 20 bytes
	if n <= stackCtl {
		return unix.EFAULT
	}
	hdr := unix.Msghdr{Controllen: n}
	_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(sock), uintptr(unsafe.Pointer(&hdr)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	if e == unix.ENOBUFS {
		return unix.ENOBUFS
	}
	return unix.EFAULT
}

// prepare copies m's payload out of the program and translates its
// control messages (translateControl), before the notification is checked
// again. A payload the program cannot read in full is copied as far as it
// can be and laid out so that the supervisor's own send faults at the
// very same byte: the kernel then decides, as for the program, whether
// that is EFAULT (a datagram, or a stream's first chunk) or a short count
// (a stream that had copied whole chunks before). false: the call has been
// answered (it failed closed).
func (c *call) prepare(sock int, si sockInfo, m *outMsg) bool {
	typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		c.failClosed(fmt.Errorf("SO_TYPE: %w", err))
		return false
	}
	stream := typ == unix.SOCK_STREAM
	for _, v := range m.iovs {
		m.asked += v.Len
	}
	m.total = m.asked
	iovs := m.iovs
	if m.total > maxSendCopy {
		if !stream {
			m.tooLong = true
			return c.prepareControl(si, m)
		}
		// A stream takes the first maxSendCopy bytes: a short count.
		iovs, m.total = truncateIovs(m.iovs, maxSendCopy), maxSendCopy
	}
	m.local, m.data = iovs, make([]byte, m.total)
	got, err := c.task.readv(m.data, iovs)
	if err != nil && !errors.Is(err, unix.EFAULT) {
		c.failClosed(fmt.Errorf("read the payload: %w", err))
		return false
	}
	if got < m.total {
		if err := m.faultAt(got); err != nil {
			c.failClosed(err)
			return false
		}
	}
	return c.prepareControl(si, m)
}

// prepareControl translates m's control messages for a socket of si's
// family; a unix socket gets them even where the program gave none (the
// credentials: see translateControl). false: the call has been answered.
func (c *call) prepareControl(si sockInfo, m *outMsg) bool {
	if len(m.control) == 0 && si.family != unix.AF_UNIX {
		return true
	}
	ctl, closeFds, errno, claims, err := c.translateControl(si.family, m.control)
	m.undo = append(m.undo, closeFds)
	if err != nil {
		c.failClosed(err)
		return false
	}
	m.ctl, m.ctlErr, m.claims = ctl, errno, claims
	return true
}

// faultAt moves the payload's first got bytes (all that was readable) to
// the end of a fresh mapping whose next pages are PROT_NONE, as many as
// the rest of the payload spans, so that byte got of the supervisor's send
// faults where the program's would have.
func (m *outMsg) faultAt(got int) error {
	page := unix.Getpagesize()
	head := (got + page - 1) / page * page
	tail := (m.total - got + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, head+tail, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("map the payload: %w", err)
	}
	m.undo = append(m.undo, func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[head:], unix.PROT_NONE); err != nil {
		return fmt.Errorf("protect the payload's unreadable part: %w", err)
	}
	data := mem[head-got : head-got+m.total]
	copy(data, m.data[:got])
	m.data = data
	return nil
}

// sendOne decides and makes one send of prepared m on sock. ok is false
// when the call has been answered already (it failed closed).
func (c *call) sendOne(sock int, si sockInfo, m *outMsg, flags int) (val int64, errno unix.Errno, aborted, ok bool) {
	typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		c.failClosed(fmt.Errorf("SO_TYPE: %w", err))
		return 0, 0, false, false
	}
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
			c.failClosed(err)
			return 0, 0, false, false
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
	pass := func() (int64, unix.Errno, bool, bool) {
		c.quiet = true
		val, errno, aborted = c.run(dirty, send(m.name))
		return val, errno, aborted, true
	}
	if si.family == unix.AF_UNIX {
		c.rec.Proto = policy.Unix.String()
		// unix_*_sendmsg parse the control messages first (but a
		// seqpacket socket must be connected before that).
		if m.ctlErr != 0 && (typ != unix.SOCK_SEQPACKET || connected(sock)) {
			c.rec.Verdict, c.rec.Reason = verdictInvalid, "control message refused"
			return 0, m.ctlErr, false, true
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
			c.rec.Verdict, c.rec.Reason = verdictInvalid, "malformed address for this socket"
			return 0, bad, false, true
		}
		if !has {
			// The protocol never sends to this name (TCP without
			// MSG_FASTOPEN, AF_UNSPEC on UDP): the kernel ignores
			// it or fails the call.
			return pass()
		}
		dec, judged := c.decideIP(sock, ipProto(si), ap)
		if dec.Verdict != policy.Allow {
			return 0, deniedSend(sock, m, dec.Errno), false, true
		}
		val, errno, aborted = c.run(dirty, send(pinAddr(m.name, si.family, judged)))
		return val, errno, aborted, true
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
			val, errno, aborted, ok = c.atUnixPath(d.unix, func(target int) (int64, unix.Errno) {
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
			if ok && !aborted && !reached {
				val, errno, aborted = c.beforeLookup(sock, m, flags, errno)
			}
			return val, errno, aborted, ok
		}
		c.rec.Dest = "@" + d.unix
		dec := c.s.policy.Decide(policy.Request{Proto: policy.Unix, Unix: "@" + d.unix})
		c.decided(dec)
		if dec.Verdict != policy.Allow {
			val, errno, aborted = c.beforeLookup(sock, m, flags, dec.Errno)
			return val, errno, aborted, true
		}
		val, errno, aborted = c.run(dirty, send(m.name))
		return val, errno, aborted, true
	case unix.AF_NETLINK, unix.AF_PACKET:
		// Netlink reaches this machine's kernel; packet sockets exist
		// only where they see nothing but the sandbox's own namespace
		// (the filter refuses them in host mode).
		return pass()
	}
	dec := policy.Decision{Verdict: policy.Deny, Errno: c.s.policy.Errno}
	c.rec.Reason = "socket family " + strconv.Itoa(si.family) + " is not covered by the policy"
	c.decided(dec)
	return 0, deniedSend(sock, m, dec.Errno), false, true
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

// kernelRefuses reports whether the kernel is known to refuse, without
// sending anything, every name sendDestIP and udpRefusal call bad for a
// socket of this kind: UDP and UDP-Lite (udp_sendmsg, udpv6_sendmsg) and
// TCP (its connect, for MSG_FASTOPEN). Such a call is best made by the
// kernel itself, whose order of checks then decides the errno.
func kernelRefuses(si sockInfo, typ int) bool {
	if si.family != unix.AF_INET && si.family != unix.AF_INET6 {
		return false
	}
	switch si.proto {
	case unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE:
		return typ == unix.SOCK_DGRAM
	case unix.IPPROTO_TCP:
		return typ == unix.SOCK_STREAM
	}
	return false
}

// udpRefusal is the errno udp_sendmsg gives, before it routes, a
// datagram of m's to ap that sendDestIP found well-formed: more than
// 64 KiB (EMSGSIZE), then MSG_OOB (EOPNOTSUPP) — or, for an IPv4
// destination on a v6-only socket, udpv6_sendmsg's ENETUNREACH first.
// Those checks come before the destination, so a deny policy must not
// hide them.
func udpRefusal(sock int, si sockInfo, typ, flags int, m *outMsg, ap netip.AddrPort) unix.Errno {
	if ipProto(si) != policy.UDP || typ != unix.SOCK_DGRAM {
		return 0
	}
	if si.family == unix.AF_INET6 {
		if !ap.Addr().Is4() && !ap.Addr().Is4In6() {
			return 0 // udpv6_sendmsg: its own checks, after routing
		}
		if v, err := unix.GetsockoptInt(sock, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err == nil && v != 0 {
			return unix.ENETUNREACH
		}
	}
	switch {
	case m.asked > 0xffff:
		return unix.EMSGSIZE
	case flags&unix.MSG_OOB != 0:
		return unix.EOPNOTSUPP
	}
	return 0
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
func (c *call) beforeLookup(sock int, m *outMsg, flags int, errno unix.Errno) (int64, unix.Errno, bool) {
	root := []byte{0, 0, '/', 0}
	binary.NativeEndian.PutUint16(root, unix.AF_UNIX)
	_, e, aborted := c.run(false, func() (int64, unix.Errno) { return c.sendPrepared(sock, m, root, flags) })
	switch {
	case aborted:
		return 0, e, true
	case e == unix.ECONNREFUSED || e == unix.EACCES:
		return 0, errno, false
	case e == 0:
		// "/" is a directory: this cannot be. Say nothing was sent.
		return 0, unix.ECONNREFUSED, false
	}
	return 0, e, false
}

// answerSend answers a send with a result of run. A send interrupted by a
// signal is restarted or fails with EINTR as the handler asks — but a
// socket with a send timeout (SO_SNDTIMEO) always fails with EINTR
// (sock_intr_errno), whatever the handler asks.
func (c *call) answerSend(sock int, val int64, errno unix.Errno, aborted bool) {
	if aborted {
		c.opMu.Lock()
		forSignal := c.forSignal
		c.opMu.Unlock()
		if tv, err := unix.GetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_SNDTIMEO); forSignal && err == nil && (tv.Sec != 0 || tv.Usec != 0) {
			c.rec.Reason = "interrupted by a signal: EINTR, as for every send with a timeout"
			c.respond(0, unix.EINTR)
			return
		}
	}
	c.answer(val, errno, aborted)
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

// sendDestIP says where an inet socket of type typ sends a message named
// name: has is false when the protocol does not send to the name; bad is
// the errno Linux gives a name it refuses before sending anything.
func sendDestIP(si sockInfo, typ, flags int, name []byte) (ap netip.AddrPort, has bool, bad unix.Errno) {
	proto := ipProto(si)
	if typ == unix.SOCK_STREAM && proto == policy.TCP {
		// tcp_sendmsg looks at the name only to connect with
		// MSG_FASTOPEN, through the connect code itself.
		if flags&unix.MSG_FASTOPEN == 0 {
			return ap, false, 0
		}
		if len(name) >= 2 && binary.NativeEndian.Uint16(name) == unix.AF_UNSPEC {
			return ap, false, 0 // tcp_sendmsg_fastopen: EOPNOTSUPP, from the kernel
		}
		if e := familyErrno(si.family, typ, false, name); e != 0 {
			return ap, false, e
		}
		d := decodeSockaddr(name)
		if d.kind != destIP {
			return ap, false, unix.EINVAL
		}
		return d.ip, true, 0
	}
	ne := binary.NativeEndian
	if len(name) < 2 {
		return ap, false, unix.EINVAL
	}
	family := ne.Uint16(name)
	// UDP refuses port 0 (udp_sendmsg, udpv6_sendmsg) before it routes;
	// a raw socket (of protocol UDP too) has no ports.
	port := func() (uint16, unix.Errno) {
		p := binary.BigEndian.Uint16(name[2:4])
		if p == 0 && proto == policy.UDP && typ == unix.SOCK_DGRAM {
			return 0, unix.EINVAL
		}
		return p, 0
	}
	v4 := func() (netip.AddrPort, bool, unix.Errno) {
		if len(name) < sockaddrInLen {
			return ap, false, unix.EINVAL
		}
		p, bad := port()
		if bad != 0 {
			return ap, false, bad
		}
		// AF_UNSPEC is read as AF_INET by udp_sendmsg and raw_sendmsg.
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(name[4:8])), p), true, 0
	}
	if si.family == unix.AF_INET {
		if family != unix.AF_INET && family != unix.AF_UNSPEC {
			return ap, false, unix.EAFNOSUPPORT
		}
		return v4()
	}
	switch family {
	case unix.AF_INET6:
		if len(name) < sockaddrIn6Min {
			return ap, false, unix.EINVAL
		}
		p, bad := port()
		if bad != 0 {
			return ap, false, bad
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), p), true, 0
	case unix.AF_INET:
		// udpv6_sendmsg hands an AF_INET name to the IPv4 code.
		return v4()
	case unix.AF_UNSPEC:
		if proto == policy.UDP {
			return ap, false, 0 // udpv6_sendmsg drops the name
		}
		// rawv6_sendmsg reads an AF_UNSPEC name as IPv6.
		if len(name) < sockaddrIn6Min {
			return ap, false, unix.EINVAL
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), binary.BigEndian.Uint16(name[2:4])), true, 0
	}
	return ap, false, unix.EINVAL
}

// fdSockaddr is a sockaddr_un naming the socket file fd (an O_PATH fd)
// refers to, through its /proc/self/fd magic link.
func fdSockaddr(fd int) []byte {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	sa := make([]byte, sockaddrUnixPath, sockaddrUnixPath+len(p)+1)
	binary.NativeEndian.PutUint16(sa, unix.AF_UNIX)
	return append(append(sa, p...), 0)
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

// truncateIovs returns the iovecs covering the first n bytes of v.
func truncateIovs(v []unix.RemoteIovec, n int) []unix.RemoteIovec {
	out := make([]unix.RemoteIovec, 0, len(v))
	for _, x := range v {
		if n == 0 {
			break
		}
		x.Len = min(x.Len, n)
		n -= x.Len
		out = append(out, x)
	}
	return out
}
