package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// read copies n bytes at addr out of the task's memory, or fails with EFAULT
// where the kernel's copy_from_user would: any byte unreadable.
func (t *task) read(addr uint64, n int) ([]byte, error) {
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(n)}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: n}}
	got, err := unix.ProcessVMReadv(t.tid, local, remote, 0)
	if err != nil {
		if errors.Is(err, unix.EFAULT) || errors.Is(err, unix.EIO) {
			return nil, unix.EFAULT
		}
		return nil, fmt.Errorf("read %d bytes of task %d memory: %w", n, t.tid, err)
	}
	if got != n {
		return nil, unix.EFAULT
	}
	return buf, nil
}

// readv copies the task's memory at remote into buf, in order, and returns
// how much it copied: less than asked where a byte was unreadable (the
// kernel's copy would fault there too).
func (t *task) readv(buf []byte, remote []unix.RemoteIovec) (int, error) {
	done := 0
	// process_vm_readv takes at most IOV_MAX (1024) remote iovecs, and
	// stops at the first one it cannot read.
	for len(remote) > 0 && done < len(buf) {
		batch := remote[:min(len(remote), uioMaxIOV)]
		want := 0
		for _, v := range batch {
			want += v.Len
		}
		if want == 0 {
			remote = remote[len(batch):]
			continue
		}
		local := []unix.Iovec{{Base: &buf[done]}}
		local[0].SetLen(want)
		got, err := unix.ProcessVMReadv(t.tid, local, batch, 0)
		if err != nil {
			if errors.Is(err, unix.EFAULT) || errors.Is(err, unix.EIO) {
				return done, unix.EFAULT
			}
			return done, fmt.Errorf("read task %d memory: %w", t.tid, err)
		}
		done += got
		if got < want {
			return done, unix.EFAULT
		}
		remote = remote[len(batch):]
	}
	return done, nil
}

// writeUint32 stores v at addr in the task's memory, as the kernel's
// put_user does for a call's results.
func (t *task) writeUint32(addr uint64, v uint32) error {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	local := []unix.Iovec{{Base: &b[0], Len: 4}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: 4}}
	n, err := unix.ProcessVMWritev(t.tid, local, remote, 0)
	if err != nil {
		return fmt.Errorf("write task %d memory: %w", t.tid, err)
	}
	if n != 4 {
		return unix.EFAULT
	}
	return nil
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
