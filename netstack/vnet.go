package netstack

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// The TUN device netstack runs on is made with TUNFlags and given
// TUNOffloads (see spawn's createTUN): every packet, read or written, comes
// behind a virtio_net_hdr (linux/virtio_net.h), and the program's kernel
// hands over its TCP and UDP segments with their checksums not yet
// computed (VIRTIO_NET_HDR_F_NEEDS_CSUM), as to a network card that
// computes them. Its own segments need no checksum on a link that cannot
// corrupt them, and so neither the program's kernel computes them nor
// netstack verifies them: on a bulk upload through the gateway the two did
// ~7% of all the work (perf: csum_partial in the TUN read, gVisor's
// calculateChecksum). iperf3 through --net sandbox, 12 alternating rounds
// of 2 s: 8.35 -> 8.94 Gbit/s median, the sandbox's CPU per GB 1.23 ->
// 1.16 s (this VM varies ±15% between runs: an 8-round set showed no
// difference).
const (
	// TUNFlags are the device's TUNSETIFF flags: IP packets with no
	// protocol information, each behind a virtio_net_hdr.
	TUNFlags = unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	// TUNOffloads is the device's TUNSETOFFLOAD: TUN_F_CSUM, checksums
	// left to the device, and no segmentation offload (with an MTU of
	// 65520 the kernel's segments are as large as they can be anyway).
	TUNOffloads = 0x01
)

// vnetHdrLen is the size of struct virtio_net_hdr, the TUN device's
// default header size.
const vnetHdrLen = 10

// The virtio_net_hdr flags of a packet read, which say its transport
// checksum needs no verifying: not computed (the packet is the kernel's own
// and has not left the machine), or already verified.
const (
	vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID
)

// noVnetHdr is the header of every packet written: no flags, no
// segmentation — the stack's packets carry complete checksums.
var noVnetHdr [vnetHdrLen]byte

// checksumTrusted reports whether hdr, a packet's virtio_net_hdr, vouches
// for its transport checksum; a packet with neither flag (one a raw or
// packet socket made, or the kernel's ICMP) is verified by the link
// (checksumsValid) before the stack, which trusts every packet, sees it.
func checksumTrusted(hdr []byte) bool {
	return hdr[0]&(vnetNeedsCsum|vnetDataValid) != 0
}

// checksumsValid verifies b's IPv4 header checksum and its TCP, UDP,
// ICMP or ICMPv6 checksum, as the stack would have. What it cannot check
// it passes: a packet too malformed to parse (the stack drops it), a
// fragment (its transport checksum covers the whole datagram), an IPv6
// packet with extension headers, other protocols.
func checksumsValid(proto tcpip.NetworkProtocolNumber, b []byte) bool {
	var src, dst tcpip.Address
	var transport tcpip.TransportProtocolNumber
	var payload []byte
	switch proto {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(b)
		if len(b) < header.IPv4MinimumSize || !ip.IsValid(len(b)) {
			return true
		}
		if !ip.IsChecksumValid() {
			return false
		}
		if ip.More() || ip.FragmentOffset() != 0 {
			return true
		}
		src, dst, transport = ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol()
		payload = b[ip.HeaderLength():ip.TotalLength()]
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(b)
		if len(b) < header.IPv6MinimumSize || !ip.IsValid(len(b)) {
			return true
		}
		// The next header, which is the transport's only when there
		// is no extension header (else it is passed, below).
		src, dst, transport = ip.SourceAddress(), ip.DestinationAddress(), tcpip.TransportProtocolNumber(ip.NextHeader())
		payload = b[header.IPv6MinimumSize : header.IPv6MinimumSize+int(ip.PayloadLength())]
	default:
		return true
	}
	switch transport {
	case header.TCPProtocolNumber:
	case header.UDPProtocolNumber:
		if len(payload) >= header.UDPMinimumSize && header.UDP(payload).Checksum() == 0 {
			return proto == header.IPv4ProtocolNumber // none, which only IPv4 allows
		}
	case header.ICMPv4ProtocolNumber:
		if proto != header.IPv4ProtocolNumber {
			return true
		}
		return checksum.Checksum(payload, 0) == 0xffff
	case header.ICMPv6ProtocolNumber:
		if proto != header.IPv6ProtocolNumber {
			return true
		}
	default:
		return true // an extension header, or a protocol the stack does not take
	}
	// The pseudo-header's sum, then the segment's own, checksum field
	// included: all ones when it is right.
	xsum := header.PseudoHeaderChecksum(transport, src, dst, uint16(len(payload)))
	return checksum.Checksum(payload, xsum) == 0xffff
}

// writeVnet writes one packet, views, behind noVnetHdr in one writev(2),
// with no allocation for up to 7 views (a packet is 1–3). Errors are
// dropped packets, as on any link.
func writeVnet(fd int, views [][]byte) {
	var iovs [8]unix.Iovec
	iov := iovs[:0]
	if len(views)+1 > len(iovs) {
		iov = make([]unix.Iovec, 0, len(views)+1)
	}
	iov = append(iov, unix.Iovec{Base: &noVnetHdr[0]})
	iov[0].SetLen(vnetHdrLen)
	for _, v := range views {
		if len(v) > 0 {
			iov = append(iov, unix.Iovec{Base: &v[0]})
			iov[len(iov)-1].SetLen(len(v))
		}
	}
	_, _, _ = unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
}

// errShortRead is a read of less than a virtio_net_hdr: no packet.
var errShortRead = errors.New("TUN read shorter than its virtio_net_hdr")

// readVnet reads one packet into b, its virtio_net_hdr into hdr, in one
// readv(2), and returns the packet's length: 0 at end of file.
func readVnet(fd int, hdr *[vnetHdrLen]byte, b []byte) (int, error) {
	iov := [2]unix.Iovec{{Base: &hdr[0]}, {Base: &b[0]}}
	iov[0].SetLen(vnetHdrLen)
	iov[1].SetLen(len(b))
	n, _, errno := unix.Syscall(unix.SYS_READV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), 2)
	if errno != 0 {
		return 0, errno
	}
	if n == 0 {
		return 0, nil
	}
	if n < vnetHdrLen {
		return 0, errShortRead
	}
	return int(n) - vnetHdrLen, nil
}
