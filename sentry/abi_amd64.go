package sentry

import "encoding/binary"

// This file is the program's memory as the supervisor reads it: the
// layouts of x86-64, the only ABI the filter lets through (seccomp.Install
// kills the process for any other — ia32, x32). Another architecture
// needs a file of its own, and without one this package does not build
// there.

const (
	msghdrSize  = 56 // sizeof(struct msghdr)
	mmsghdrSize = 64 // sizeof(struct mmsghdr): a msghdr, then msg_len
	iovecSize   = 16 // sizeof(struct iovec)
)

// msghdr is a struct msghdr as the program wrote it.
type msghdr struct {
	name                uint64
	nameLen             int32 // an int to the kernel, so it can be negative
	iov, iovLen         uint64
	control, controlLen uint64
	flags               int32
}

// decodeMsghdr reads a struct msghdr from b (msghdrSize bytes).
func decodeMsghdr(b []byte) msghdr {
	ne := binary.NativeEndian
	return msghdr{
		name: ne.Uint64(b[0:]), nameLen: int32(ne.Uint32(b[8:])),
		iov: ne.Uint64(b[16:]), iovLen: ne.Uint64(b[24:]),
		control: ne.Uint64(b[32:]), controlLen: ne.Uint64(b[40:]),
		flags: int32(ne.Uint32(b[48:])),
	}
}

// decodeIovec reads a struct iovec from b (iovecSize bytes).
func decodeIovec(b []byte) (base, length uint64) {
	return binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
}
