package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
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
// policy decides.

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
	// msghdrSize and mmsghdrSize are sizeof(struct msghdr) and
	// sizeof(struct mmsghdr) on x86-64.
	msghdrSize  = 56
	mmsghdrSize = 64
	// maxRWCount is MAX_RW_COUNT: the kernel silently caps one call's
	// length to it.
	maxRWCount = 0x7ffff000
)

// sysSendto handles sendto(2) calls with an address: sendto(int fd, const
// void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t
// addrlen). The filter lets calls without an address run untrapped.
//
// Linux checks the fd (EBADF, ENOTSOCK), then the address length (EINVAL)
// and copies the address (EFAULT), then hands over to the protocol.
func sysSendto(c *call) {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	sock, si, ok := c.sendSocket(fd)
	if !ok {
		return
	}
	defer unix.Close(sock)
	addrLen := int(int32(uint32(c.n.Args[5])))
	if addrLen < 0 || addrLen > maxSockaddr {
		c.invalid(unix.EINVAL, "address length "+strconv.Itoa(addrLen)+" out of range")
		return
	}
	name, err := c.task.read(c.n.Args[4], addrLen)
	if err != nil {
		c.readFailed("the address", err)
		return
	}
	length := c.n.Args[2]
	if length > maxRWCount {
		length = maxRWCount
	}
	m := &outMsg{name: name, iovs: []unix.RemoteIovec{{Base: uintptr(c.n.Args[1]), Len: int(length)}}}
	if !c.stillWaiting() {
		return
	}
	flags := int(uint32(c.n.Args[3]))
	val, errno, aborted, ok := c.sendOne(sock, si, m, flags)
	if ok {
		c.answer(val, errno, aborted)
	}
}

// sysSendmsg handles sendmsg(2): sendmsg(int fd, const struct msghdr *msg,
// int flags).
func sysSendmsg(c *call) {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	sock, si, ok := c.sendSocket(fd)
	if !ok {
		return
	}
	defer unix.Close(sock)
	m, errno, err := c.copyMsghdr(c.n.Args[1])
	switch {
	case err != nil:
		c.failClosed(err)
		return
	case errno != 0:
		c.invalid(errno, "malformed message header")
		return
	case !c.stillWaiting():
		return
	}
	val, errno, aborted, ok := c.sendOne(sock, si, m, int(uint32(c.n.Args[2])))
	if ok {
		c.answer(val, errno, aborted)
	}
}

// sysSendmmsg handles sendmmsg(2): sendmmsg(int fd, struct mmsghdr *msgvec,
// unsigned int vlen, int flags). Like Linux it stops at the first message
// that fails — one the policy denies included — and returns the number
// sent, or that message's error when it is the first; each sent message's
// length is written to its msg_len.
func sysSendmmsg(c *call) {
	fd := int(int32(c.n.Args[0]))
	c.rec.Fd = fd
	sock, si, ok := c.sendSocket(fd)
	if !ok {
		return
	}
	defer unix.Close(sock)
	vec, vlen, flags := c.n.Args[1], uint32(c.n.Args[2]), int(uint32(c.n.Args[3]))
	vlen = min(vlen, uioMaxIOV)
	sent := int64(0)
	var errno unix.Errno
	for i := range uint64(vlen) {
		entry := vec + i*mmsghdrSize
		m, e, err := c.copyMsghdr(entry)
		if err != nil {
			c.failClosed(err)
			return
		}
		if !c.stillWaiting() {
			return
		}
		var n int64
		if e == 0 {
			var aborted, ok bool
			n, e, aborted, ok = c.sendOne(sock, si, m, flags)
			if !ok {
				return // answered
			}
			if aborted {
				if sent > 0 {
					c.respond(sent, 0)
				} else {
					c.answer(0, e, true)
				}
				return
			}
		}
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
	}
	if sent > 0 {
		c.respond(sent, 0)
		return
	}
	c.respond(0, errno)
}

// sendSocket duplicates the program's fd and checks it is a socket, in
// Linux's order (EBADF, then ENOTSOCK).
func (c *call) sendSocket(fd int) (int, sockInfo, bool) {
	sock, ok := c.getfd(fd)
	if !ok {
		return -1, sockInfo{}, false
	}
	si, err := socketInfo(sock)
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

// outMsg is one message as the program described it, before its payload
// is copied.
type outMsg struct {
	name    []byte // nil: no name; as long as msg_namelen once the kernel has capped it
	iovs    []unix.RemoteIovec
	control []byte
	flags   int32 // msg_flags
}

// copyMsghdr copies the struct msghdr at addr, its name, its iovec array
// and its control bytes, with Linux's checks in Linux's order
// (__copy_msghdr, import_iovec, ____sys_sendmsg). errno is the program's
// error; err a failure of the supervisor's own.
func (c *call) copyMsghdr(addr uint64) (*outMsg, unix.Errno, error) {
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
	ne := binary.NativeEndian
	namePtr, nameLen := ne.Uint64(hdr[0:]), int32(ne.Uint32(hdr[8:]))
	iovPtr, iovLen := ne.Uint64(hdr[16:]), ne.Uint64(hdr[24:])
	ctlPtr, ctlLen := ne.Uint64(hdr[32:]), ne.Uint64(hdr[40:])
	m := &outMsg{flags: int32(ne.Uint32(hdr[48:]))}

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
	raw, errno, err := read(iovPtr, int(iovLen)*16)
	if errno != 0 || err != nil {
		return nil, errno, err
	}
	total := uint64(0)
	m.iovs = make([]unix.RemoteIovec, iovLen)
	for i := range m.iovs {
		base, n := ne.Uint64(raw[16*i:]), ne.Uint64(raw[16*i+8:])
		if int64(n) < 0 {
			return nil, unix.EINVAL, nil
		}
		// The kernel caps the whole at MAX_RW_COUNT.
		n = min(n, maxRWCount-total)
		total += n
		m.iovs[i] = unix.RemoteIovec{Base: uintptr(base), Len: int(n)}
	}

	if ctlLen > 0x7fffffff || ctlLen > maxControl {
		return nil, unix.ENOBUFS, nil
	}
	if ctlLen > 0 {
		if m.control, errno, err = read(ctlPtr, int(ctlLen)); errno != 0 || err != nil {
			return nil, errno, err
		}
	}
	return m, 0, nil
}

// sendOne decides and makes one send of m on sock. ok is false when the call
// has been answered already (it failed closed).
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
	// thread that is then discarded.
	asProgram := si.family == unix.AF_NETLINK || len(m.control) > 0
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
			return c.sendCopy(sock, typ, m, name, flags)
		}
	}
	if m.name == nil {
		c.quiet = true
		val, errno, aborted = c.run(dirty, send(nil))
		return val, errno, aborted, true
	}
	switch si.family {
	case unix.AF_INET, unix.AF_INET6, unix.AF_SMC:
		ap, has, bad := sendDestIP(si, typ, flags, m.name)
		if bad != 0 {
			c.rec.Verdict, c.rec.Reason = verdictInvalid, "malformed address for this socket"
			return 0, bad, false, true
		}
		if !has {
			// The protocol never sends to this name (TCP without
			// MSG_FASTOPEN, AF_UNSPEC on UDP): the kernel ignores
			// it or fails the call.
			c.quiet = true
			val, errno, aborted = c.run(dirty, send(m.name))
			return val, errno, aborted, true
		}
		dec := c.decideIP(sock, ipProto(si), ap)
		if dec.Verdict != policy.Allow {
			return 0, dec.Errno, false, true
		}
		val, errno, aborted = c.run(dirty, send(m.name))
		return val, errno, aborted, true
	case unix.AF_UNIX:
		c.rec.Proto = policy.Unix.String()
		if typ != unix.SOCK_DGRAM {
			// Stream sockets refuse a name (EISCONN, EOPNOTSUPP) and
			// seqpacket ones ignore it: the kernel never sends to it.
			c.quiet = true
			val, errno, aborted = c.run(dirty, send(m.name))
			return val, errno, aborted, true
		}
		d := decodeSockaddr(m.name)
		switch d.kind {
		case destUnixPath:
			return c.atUnixPath(d.unix, func(target int) (int64, unix.Errno) {
				return c.sendCopy(sock, typ, m, fdSockaddr(target), flags)
			})
		case destUnixAbstract:
			c.rec.Dest = "@" + d.unix
			dec := c.s.policy.Decide(policy.Request{Proto: policy.Unix, Unix: "@" + d.unix})
			c.decided(dec)
			if dec.Verdict != policy.Allow {
				return 0, dec.Errno, false, true
			}
			val, errno, aborted = c.run(dirty, send(m.name))
			return val, errno, aborted, true
		}
		// unix_validate_addr: too short, too long or not AF_UNIX.
		c.rec.Verdict, c.rec.Reason = verdictInvalid, "malformed unix address"
		return 0, unix.EINVAL, false, true
	case unix.AF_NETLINK, unix.AF_PACKET:
		// Netlink reaches this machine's kernel; packet sockets exist
		// only where they see nothing but the sandbox's own namespace
		// (the filter refuses them in host mode).
		c.quiet = true
		val, errno, aborted = c.run(dirty, send(m.name))
		return val, errno, aborted, true
	}
	dec := policy.Decision{Verdict: policy.Deny, Errno: c.s.policy.Errno}
	c.rec.Reason = "socket family " + strconv.Itoa(si.family) + " is not covered by the policy"
	c.decided(dec)
	return 0, dec.Errno, false, true
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
	v4 := func() (netip.AddrPort, bool, unix.Errno) {
		if len(name) < sockaddrInLen {
			return ap, false, unix.EINVAL
		}
		// AF_UNSPEC is read as AF_INET by udp_sendmsg and raw_sendmsg.
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(name[4:8])), binary.BigEndian.Uint16(name[2:4])), true, 0
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
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), binary.BigEndian.Uint16(name[2:4])), true, 0
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

// sendCopy copies m's payload out of the program and sends it on sock with
// name (nil for none), with the program's flags. It runs as an op of run:
// it may block, and the monitor may interrupt it.
func (c *call) sendCopy(sock, typ int, m *outMsg, name []byte, flags int) (int64, unix.Errno) {
	stream := typ == unix.SOCK_STREAM
	total := 0
	for _, v := range m.iovs {
		total += v.Len
	}
	if total > maxSendCopy && !stream {
		return 0, unix.EMSGSIZE
	}
	// A stream takes the first maxSendCopy bytes: a short count.
	iovs := m.iovs
	if total > maxSendCopy {
		iovs, total = truncateIovs(m.iovs, maxSendCopy), maxSendCopy
	}
	data := make([]byte, total)
	got, err := c.task.readv(data, iovs)
	if err != nil && !errors.Is(err, unix.EFAULT) {
		return 0, unix.EFAULT
	}
	if got < total {
		// The kernel copies up to the fault: a stream sends that much,
		// a datagram nothing.
		if !stream || got == 0 {
			return 0, unix.EFAULT
		}
		iovs, total = truncateIovs(iovs, got), got
		data = data[:got]
	}
	control, closeFds, errno := c.translateControl(sock, m.control)
	defer closeFds()
	if errno != 0 {
		return 0, errno
	}

	// Our iovecs have the program's lengths, over one buffer.
	local := make([]unix.Iovec, len(iovs)+1) // +1: never empty, so &local[0] is valid
	off := 0
	for i, v := range iovs {
		if v.Len > 0 {
			local[i].Base = &data[off]
		}
		local[i].SetLen(v.Len)
		off += v.Len
	}
	var hdr unix.Msghdr
	if len(iovs) > 0 {
		hdr.Iov = &local[0]
		hdr.SetIovlen(len(iovs))
	}
	var empty [1]byte
	switch {
	case len(name) > 0:
		hdr.Name = &name[0]
		hdr.Namelen = uint32(len(name))
	case name != nil:
		// sendto's address of length 0: a name, but an empty one.
		hdr.Name = &empty[0]
	}
	if len(control) > 0 {
		hdr.Control = &control[0]
		hdr.SetControllen(len(control))
	}
	hdr.Flags = m.flags
	// The supervisor must not take SIGPIPE for the program: it asks for
	// EPIPE and passes the signal on below, as the kernel would.
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(sock), uintptr(unsafe.Pointer(&hdr)), uintptr(flags|unix.MSG_NOSIGNAL))
	runtime.KeepAlive(data)
	runtime.KeepAlive(local)
	runtime.KeepAlive(name)
	runtime.KeepAlive(control)
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
