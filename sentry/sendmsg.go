package sentry

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

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
	data    []byte             // the payload, laid out as the iovecs say (set before prepare by readSendto)
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
// (a stream that had copied whole chunks before). An error is a failure of
// the supervisor's: the call fails closed.
func (c *call) prepare(sock int, si sockInfo, typ int, m *outMsg) error {
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
	if m.data != nil {
		// Read whole with the address (readSendto).
		m.local = iovs
		return c.prepareControl(si, m)
	}
	m.local, m.data = iovs, make([]byte, m.total)
	got, err := c.task.readv(m.data, iovs)
	if err != nil && !errors.Is(err, unix.EFAULT) {
		return fmt.Errorf("read the payload: %w", err)
	}
	if got < m.total {
		if err := m.faultAt(got); err != nil {
			return err
		}
	}
	return c.prepareControl(si, m)
}

// prepareControl translates m's control messages for a socket of si's
// family; a unix socket gets them even where the program gave none (the
// credentials: see translateControl).
func (c *call) prepareControl(si sockInfo, m *outMsg) error {
	if len(m.control) == 0 && si.family != unix.AF_UNIX {
		return nil
	}
	ctl, closeFds, errno, claims, err := c.translateControl(si.family, m.control)
	m.undo = append(m.undo, closeFds)
	if err != nil {
		return err
	}
	m.ctl, m.ctlErr, m.claims = ctl, errno, claims
	return nil
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
