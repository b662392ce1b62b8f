package sentry

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"sandbox/policy"
)

// sysBind handles bind(2) in --net host: bind(int fd, const struct sockaddr
// *addr, socklen_t addrlen). A bind to a port the program names is where a
// program starts taking connections or datagrams from anyone who can reach
// the host, so the policy's listen rules judge it; the supervisor then
// makes the call itself, with its own copy of the address and the
// program's rights (see asProgram).
//
// Linux checks, in order: the fd (EBADF), that it is a socket (ENOTSOCK:
// sockfd_lookup comes before the copy in __sys_bind, unlike connect), the
// length (EINVAL), the copy (EFAULT), then the protocol's own rules, which
// the kernel checks when the supervisor makes the call.
func sysBind(c *call) result {
	fd := int(int32(c.n.Args[0]))
	addrPtr := c.n.Args[1]
	addrLen := int(int32(uint32(c.n.Args[2])))
	c.rec.Fd = fd
	sock, info, err := c.socketArg(fd)
	if err != nil {
		return resultOf(err)
	}
	defer unix.Close(sock)
	addr, err := c.readSockaddr(addrPtr, addrLen)
	if err != nil {
		return resultOf(err)
	}
	if !c.stillWaiting() {
		return gone
	}
	bind := func() (int64, unix.Errno) { return 0, rawBind(sock, addr) }
	switch info.family {
	case unix.AF_INET, unix.AF_INET6, unix.AF_SMC:
		local, ok := bindAddr(info.family, addr)
		if !ok || local.Port() == 0 {
			// A name the kernel refuses (with its own errno), or a
			// port the kernel chooses: a stream socket is judged
			// when it listens, and a datagram socket on an
			// ephemeral port is every client's way to get replies.
			c.quiet = true
			return c.asProgram(false, bind)
		}
		if dec := c.decideListen(ipProto(info), local); dec.Verdict != policy.Allow {
			return reply(0, dec.Errno)
		}
		return c.asProgram(false, bind)
	case unix.AF_UNIX:
		c.rec.Proto = policy.Unix.String()
		c.quiet = true
		d := decodeSockaddr(addr)
		// A path is created where the program's own bind would
		// create it: from its cwd or root, with its umask, owned by
		// it and checked against its rights. Abstract names and
		// autobind touch no file.
		return c.asProgram(d.kind == destUnixPath, bind)
	}
	// Netlink's multicast groups are checked against the binder's
	// capabilities: the program's.
	c.quiet = true
	return c.asProgram(false, bind)
}

// sysListen handles listen(2) in --net host: listen(int fd, int backlog).
// A stream socket whose port the kernel chose (bound to port 0, or not
// bound at all) is judged here, by the address it is bound to; then the
// supervisor makes the call with the program's rights.
func sysListen(c *call) result {
	fd := int(int32(c.n.Args[0]))
	backlog := int(int32(uint32(c.n.Args[1])))
	c.rec.Fd = fd
	sock, info, err := c.socketArg(fd)
	if err != nil {
		return resultOf(err)
	}
	defer unix.Close(sock)
	listen := func() (int64, unix.Errno) {
		if info.family == unix.AF_UNIX {
			return 0, c.unixListen(sock, backlog)
		}
		return 0, rawListen(sock, backlog)
	}
	typ, err := sockType(sock)
	if err != nil {
		return failClosed(err)
	}
	inet := info.family == unix.AF_INET || info.family == unix.AF_INET6 || info.family == unix.AF_SMC
	if !inet || typ != unix.SOCK_STREAM {
		// Datagram and raw inet sockets do not listen (EOPNOTSUPP,
		// from the kernel); a unix listener's credentials, which its
		// clients read (SO_PEERCRED), are set here: the program's.
		c.quiet = true
		return c.asProgram(false, listen)
	}
	local, err := boundAddr(sock)
	if err != nil {
		return failClosed(err)
	}
	if local.Port() == 0 {
		// listen autobinds an unbound socket to every address and a
		// port of the kernel's choice. The supervisor binds it so
		// first — the state is the same (no address or port lock) —
		// to know the port before anything can connect to it. (A
		// listen then denied leaves the socket bound, where a native
		// listen that failed would not: a later bind of it fails
		// EINVAL.)
		if errno := c.autobind(sock, info.family); errno != 0 {
			return reply(0, errno).because("the kernel found no free port")
		}
		if local, err = boundAddr(sock); err != nil {
			return failClosed(err)
		}
	}
	dec := c.decideListen(ipProto(info), local)
	if dec.Verdict != policy.Allow {
		return reply(0, dec.Errno)
	}
	res := c.asProgram(false, listen)
	if res.succeeded() {
		// The address getsockname shows is not always where the
		// listen lands: a listener shut down keeps showing the port it
		// gave back, and listening again takes a new one; another
		// thread may also bind a socket between the decision and the
		// listen. What listens is judged, or listens no more.
		now, err := boundAddr(sock)
		if err != nil {
			unix.Shutdown(sock, unix.SHUT_RDWR)
			return failClosed(err)
		}
		if now != local {
			if dec := c.decideListen(ipProto(info), now); dec.Verdict != policy.Allow {
				unix.Shutdown(sock, unix.SHUT_RDWR)
				return reply(0, dec.Errno).because("the socket listened on another address than the one first judged")
			}
		}
	}
	return res
}

// decideListen puts a bind or listen on local to the policy's listen rules
// and records the decision.
func (c *call) decideListen(proto policy.Proto, local netip.AddrPort) policy.Decision {
	c.rec.Proto = proto.String()
	c.rec.Dest = local.String()
	return c.decide(policy.Request{Listen: true, Proto: proto, Addr: local.Addr(), Port: local.Port()})
}

// autobind binds an unbound inet socket to every address and a port of
// the kernel's choice, as listen's own autobind would; its failure is
// listen's (EAGAIN: inet_csk_get_port found no port).
func (c *call) autobind(sock, family int) unix.Errno {
	var sa []byte
	if family == unix.AF_INET6 {
		sa = make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET6)
	} else {
		sa = make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET)
	}
	if e := rawBind(sock, sa); e != 0 {
		return unix.EAGAIN
	}
	return 0
}

// bindAddr is the local address an inet bind of name asks for, when the
// kernel would take name as one (inet_bind, inet6_bind): ok is false for
// a name it refuses, whose errno the kernel then gives.
func bindAddr(sockFamily int, name []byte) (netip.AddrPort, bool) {
	if len(name) < 2 {
		return netip.AddrPort{}, false
	}
	family := int(binary.NativeEndian.Uint16(name))
	port := func() uint16 { return binary.BigEndian.Uint16(name[2:4]) }
	v4 := func() (netip.AddrPort, bool) {
		if len(name) < sockaddrInLen {
			return netip.AddrPort{}, false
		}
		a := netip.AddrFrom4([4]byte(name[4:8]))
		// AF_UNSPEC passes only with INADDR_ANY ("compatibility
		// games" in inet_bind).
		if family == unix.AF_UNSPEC && !a.IsUnspecified() {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a, port()), true
	}
	v6 := func() (netip.AddrPort, bool) {
		if len(name) < sockaddrIn6Min {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), port()), true
	}
	switch {
	case family == unix.AF_INET6 && sockFamily != unix.AF_INET:
		return v6()
	case (family == unix.AF_INET || family == unix.AF_UNSPEC) && sockFamily != unix.AF_INET6:
		return v4()
	}
	return netip.AddrPort{}, false
}

// boundAddr is the local address sock is bound to (port 0: not bound).
func boundAddr(sock int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(sock)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("getsockname: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("getsockname: not an inet address: %T", sa)
}

// rawBind calls bind(2) with exactly the bytes given (see rawConnect).
func rawBind(sock int, sa []byte) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(sock), uintptr(unsafe.Pointer(unsafe.SliceData(sa))), uintptr(len(sa)))
	return e
}

// unixListen makes the unix socket sock listen: from a process of its own
// when the call is made with the program's identity (peerproc.go), since
// the listener's clients learn the pid of the process that listened.
func (c *call) unixListen(sock, backlog int) unix.Errno {
	if c.asOther {
		return c.peerListen(sock, backlog)
	}
	return rawListen(sock, backlog)
}

// rawListen calls listen(2) with the program's backlog, unclamped: the
// kernel clamps it as it would have.
func rawListen(sock, backlog int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_LISTEN, uintptr(sock), uintptr(backlog), 0)
	return e
}

// asProgram makes op, a call for the program, with the program's
// credentials and capabilities where they differ from the supervisor's (a
// bind to port 80 by a program run as nobody stays EACCES; a unix listener
// shows its clients the program's ids), and with fs, also in the program's
// root and working directory and with its umask, so that a relative unix
// path is created where the program's own bind would create it, with the
// mode it would have. Such a thread is discarded afterwards. A failure to
// take on the program's rights fails closed (EACCES), recorded as such.
func (c *call) asProgram(fs bool, op func() (int64, unix.Errno)) result {
	ids, err := taskCreds(c.task.tid)
	if err != nil {
		return failClosed(err)
	}
	assume := !ids.equal(c.s.creds)
	c.asOther = assume
	var pfs *programFS
	if fs {
		if pfs, err = openProgramFS(c.task.tid); err != nil {
			return failClosed(err)
		}
		defer pfs.close()
	}
	var failure error
	ready := false
	res := c.run(assume || fs, func() (int64, unix.Errno) {
		if !ready { // op may run again after EINTR; the thread is set once
			ready = true
			if fs {
				if failure = pfs.enter(); failure != nil {
					return 0, unix.EACCES
				}
			}
			if assume {
				if failure = ids.assume(); failure != nil {
					return 0, unix.EACCES
				}
			}
		}
		return op()
	})
	if failure != nil {
		return failClosed(failure)
	}
	if c.peerFailure != nil {
		return failClosed(c.peerFailure)
	}
	return res
}

// programFS is a program's view of the filesystem — root, working
// directory, umask — for a thread of the supervisor's to take on.
type programFS struct {
	root, cwd int // O_PATH directory fds
	sameRoot  bool
	umask     int
}

// openProgramFS opens thread tid's root and cwd. Like prepareUnixLookup,
// with the supervisor's own credentials: a program that dropped root
// without exec is not dumpable, and its /proc links open only to
// CAP_SYS_PTRACE.
func openProgramFS(tid int) (*programFS, error) {
	proc := "/proc/" + strconv.Itoa(tid)
	umask, err := taskUmask(proc + "/status")
	if err != nil {
		return nil, err
	}
	p := &programFS{root: -1, cwd: -1, umask: umask}
	if p.root, err = unix.Open(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("open the program's root: %w", err)
	}
	if p.cwd, err = unix.Open(proc+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		p.close()
		return nil, fmt.Errorf("open the program's working directory: %w", err)
	}
	var theirs, ours unix.Stat_t
	if err := unix.Fstat(p.root, &theirs); err != nil {
		p.close()
		return nil, fmt.Errorf("stat the program's root: %w", err)
	}
	if err := unix.Stat("/", &ours); err != nil {
		p.close()
		return nil, fmt.Errorf("stat /: %w", err)
	}
	p.sameRoot = theirs.Dev == ours.Dev && theirs.Ino == ours.Ino
	return p, nil
}

func (p *programFS) close() {
	for _, fd := range []int{p.root, p.cwd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// enter gives the calling thread — only it, after unshare(CLONE_FS) — the
// program's root, working directory and umask. The thread must then be
// discarded.
func (p *programFS) enter() error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	if !p.sameRoot {
		if err := unix.Fchdir(p.root); err != nil {
			return fmt.Errorf("enter the program's root: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("take the program's root (it differs from the supervisor's): %w", err)
		}
	}
	if err := unix.Fchdir(p.cwd); err != nil {
		return fmt.Errorf("enter the program's working directory: %w", err)
	}
	unix.Umask(p.umask)
	return nil
}

// taskUmask reads the Umask line of a /proc status file.
func taskUmask(status string) (int, error) {
	data, err := os.ReadFile(status)
	if err != nil {
		return 0, fmt.Errorf("read the program's umask: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return 0, fmt.Errorf("%s: Umask: %w", status, err)
			}
			return int(m), nil
		}
	}
	return 0, fmt.Errorf("%s: no Umask line", status)
}
