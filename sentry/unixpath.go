package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unixLookup is a lookup of a filesystem socket path as the child would do
// it: from a directory of the child's (its root or cwd), with openat2
// flags that keep the walk inside the child's view.
type unixLookup struct {
	dirfd int
	rel   string
	how   unix.OpenHow
	path  string // as the child wrote it, for messages
}

// prepareUnixLookup opens the child's directory the lookup starts from. It
// runs with the supervisor's own credentials: /proc/PID/root and cwd are
// closed to the child's own uid when the child is not dumpable (it dropped
// root without exec'ing), and opening them is the supervisor's business,
// not a check the child's connect would make.
//
// Absolute paths start from the child's root, relative ones from its cwd;
// magic links (/proc/self/fd/N and the like) are refused, since resolved
// by the supervisor they would name the supervisor's own files.
func prepareUnixLookup(tid int, path string) (*unixLookup, error) {
	proc := "/proc/" + strconv.Itoa(tid)
	l := &unixLookup{path: path, how: unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS}}
	var dir string
	if strings.HasPrefix(path, "/") {
		// RESOLVE_IN_ROOT makes "/" and ".." in the path and in
		// absolute symlinks stop at the child's root.
		dir, l.rel = proc+"/root", path
		l.how.Resolve |= unix.RESOLVE_IN_ROOT
	} else {
		root, err := os.Readlink(proc + "/root")
		if err != nil {
			return nil, fmt.Errorf("read the child's root: %w", err)
		}
		if root == "/" {
			// Same root as the supervisor: resolving from the
			// child's cwd is exact, ".." and absolute symlinks
			// included.
			dir, l.rel = proc+"/cwd", path
		} else {
			cwd, err := os.Readlink(proc + "/cwd")
			if err != nil {
				return nil, fmt.Errorf("read the child's cwd: %w", err)
			}
			inRoot, ok := strings.CutPrefix(cwd, root)
			if !ok || (inRoot != "" && !strings.HasPrefix(inRoot, "/")) {
				return nil, fmt.Errorf("the child's cwd %q is outside its root %q", cwd, root)
			}
			dir, l.rel = proc+"/root", "/"+strings.TrimPrefix(inRoot, "/")+"/"+path
			l.how.Resolve |= unix.RESOLVE_IN_ROOT
		}
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	l.dirfd = fd
	return l, nil
}

func (l *unixLookup) close() { unix.Close(l.dirfd) }

// open opens (O_PATH) the file the path leads to, following symlinks as
// the child's connect would, with the calling thread's credentials — the
// child's, where they differ. The supervisor then checks the policy against
// where the path really leads and connects to that very inode through
// /proc/self/fd/N, so neither a symlink nor a rename after the check can
// send the connection elsewhere.
//
// A lookup error the child's connect would meet too (ENOENT, EACCES,
// ENOTDIR, ELOOP) is returned as a bare unix.Errno, for the child; anything
// else is the supervisor's own failure.
func (l *unixLookup) open() (int, error) {
	for range 8 {
		fd, err := unix.Openat2(l.dirfd, l.rel, &l.how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EAGAIN):
			continue // a concurrent rename raced RESOLVE_IN_ROOT: retry
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOTDIR),
			errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENAMETOOLONG):
			return -1, err.(unix.Errno)
		default:
			return -1, fmt.Errorf("look up %q as the child: %w", l.path, err)
		}
	}
	return -1, fmt.Errorf("look up %q as the child: renames kept racing the lookup", l.path)
}

// fdPath is where an fd really leads, as the supervisor sees the filesystem.
func fdPath(fd int) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", fmt.Errorf("resolve the socket path: %w", err)
	}
	return p, nil
}

// connectFd connects sock to the filesystem socket fd (an O_PATH fd) refers
// to: the kernel follows the /proc/self/fd magic link to that inode, checks
// the caller's write permission on it and connects. (A process made for
// the call has a copy of the supervisor's fds: the link names the same
// inode there.)
func (c *call) connectFd(sock, fd int) unix.Errno {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	sa := make([]byte, sockaddrUnixPath, sockaddrUnixPath+len(p)+1)
	binary.NativeEndian.PutUint16(sa, unix.AF_UNIX)
	sa = append(append(sa, p...), 0)
	return c.unixConnect(sock, sa)
}

// unixConnect connects the unix socket sock to sa: from a process of its
// own when the call is made with the program's identity (peerproc.go).
func (c *call) unixConnect(sock int, sa []byte) unix.Errno {
	if c.asOther {
		return c.peerConnect(sock, sa)
	}
	return rawConnect(sock, sa)
}

// rawConnect calls connect(2) with exactly the bytes given — not re-encoded
// from a parsed form — so the kernel judges the very address the child
// passed, and its errno is the one the child would have had.
func rawConnect(sock int, sa []byte) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(sock), uintptr(unsafe.Pointer(unsafe.SliceData(sa))), uintptr(len(sa)))
	return e
}
