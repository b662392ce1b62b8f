package spawn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"sandbox/netstack"
)

// tunName is the program's one interface in --net sandbox mode.
const tunName = "tun0"

// createTUN makes the TUN device in the init step's (new) network namespace
// and sets it up as the program's way out: its addresses, up, and the
// default routes via the gateway, which is netstack on the fd it returns.
func createTUN() (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return -1, fmt.Errorf("open /dev/net/tun: %w (--net sandbox needs read-write access to it: run as root, or have root make it 0666 as most distributions do)", err)
	}
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w (is the tun module loaded?)", err)
	}
	ifr, err := unix.NewIfreq(tunName)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	// IP packets behind a virtio_net_hdr, whose TCP and UDP checksums
	// the program's kernel leaves to the device, as netstack's link
	// endpoint reads them (netstack/vnet.go).
	ifr.SetUint16(netstack.TUNFlags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("create %s: %w", tunName, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, netstack.TUNOffloads); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s checksum offload: %w", tunName, err)
	}
	// Persistent: closing the supervisor's fd when the program has ended
	// then leaves the device alone, and it goes with the program's
	// network namespace, which the kernel tears down in a work queue of
	// its own. A device that is not persistent is unregistered by that
	// close, under the RTNL lock and an RCU grace period: ~20–30 ms here,
	// a third of `sandbox run -- true` in --net sandbox (BenchmarkStartup).
	// Never left behind: a TUN device dies with its namespace, it is not
	// moved to the host's. Refused, the device is only slower to close.
	_ = unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1)
	if err := configureTUN(); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func configureTUN() error {
	link, err := netlink.LinkByName(tunName)
	if err != nil {
		return fmt.Errorf("find %s: %w", tunName, err)
	}
	if err := netlink.LinkSetMTU(link, netstack.MTU); err != nil {
		return fmt.Errorf("set %s MTU: %w", tunName, err)
	}
	for _, p := range []netip.Prefix{netstack.ProgramAddr4, netstack.ProgramAddr6} {
		// No duplicate address detection: nothing else is on this link,
		// and DAD would hold the IPv6 address back for a second.
		addr := &netlink.Addr{IPNet: ipNet(p), Flags: unix.IFA_F_NODAD}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("add %v to %s: %w", p, tunName, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring %s up: %w", tunName, err)
	}
	for _, gw := range []netip.Addr{netstack.Gateway4, netstack.Gateway6} {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(gw.AsSlice())}
		if err := netlink.RouteAdd(route); err != nil {
			return fmt.Errorf("add the default route via %v: %w", gw, err)
		}
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
