package spawn

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"sandbox/sentry"
)

// threadCaps reads the calling thread's capability sets.
func threadCaps() (eff, prm, inh, bnd, amb uint64, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err = unix.Capget(&hdr, &data[0]); err != nil {
		return
	}
	eff = uint64(data[1].Effective)<<32 | uint64(data[0].Effective)
	prm = uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
	inh = uint64(data[1].Inheritable)<<32 | uint64(data[0].Inheritable)
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if in, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); in == 1 {
			bnd |= 1 << c
		}
		if in, _ := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0); in == 1 {
			amb |= 1 << c
		}
	}
	return
}

// TestDropCaps: as root, dropCaps leaves none of the dropped capabilities
// in any set — not even one raised into the ambient set first — and keeps
// the others; CAP_NET_RAW goes in --net host only.
func TestDropCaps(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, whose capabilities are to be dropped")
	}
	for _, mode := range []sentry.NetMode{sentry.NetHost, sentry.NetSandbox, sentry.NetNone} {
		t.Run(string(mode), func(t *testing.T) {
			var before, eff, prm, inh, bnd, amb uint64
			var err error
			onThrowawayThread(func() {
				// NET_ADMIN into the inheritable and ambient sets,
				// as a user's launcher might have put it there.
				hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
				var data [2]unix.CapUserData
				if err = unix.Capget(&hdr, &data[0]); err != nil {
					return
				}
				data[0].Inheritable |= 1 << unix.CAP_NET_ADMIN
				if err = unix.Capset(&hdr, &data[0]); err != nil {
					return
				}
				if err = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, unix.CAP_NET_ADMIN, 0, 0); err != nil {
					return
				}
				if _, _, _, _, before, err = threadCaps(); err != nil {
					return
				}
				if err = dropCaps(mode); err != nil {
					return
				}
				eff, prm, inh, bnd, amb, err = threadCaps()
			})
			if err != nil {
				t.Fatal(err)
			}
			if before&(1<<unix.CAP_NET_ADMIN) == 0 {
				t.Fatal("CAP_NET_ADMIN never reached the ambient set: the test has no teeth")
			}
			dropped := uint64(0)
			for _, c := range droppedCaps {
				dropped |= 1 << c
			}
			if mode == sentry.NetHost {
				dropped |= 1 << unix.CAP_NET_RAW
			}
			for name, set := range map[string]uint64{"effective": eff, "permitted": prm, "inheritable": inh, "bounding": bnd, "ambient": amb} {
				if set&dropped != 0 {
					t.Errorf("%s set %#x still holds %#x", name, set, set&dropped)
				}
			}
			kept := uint64(1<<unix.CAP_CHOWN | 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_KILL | 1<<unix.CAP_NET_BIND_SERVICE | 1<<unix.CAP_SETPCAP)
			if mode != sentry.NetHost {
				kept |= 1 << unix.CAP_NET_RAW
			}
			if eff&kept != kept || bnd&kept != kept {
				t.Errorf("effective %#x, bounding %#x: root must keep %#x", eff, bnd, kept)
			}
		})
	}
}

// dropCaps applies planCapDrop(mode) to the calling thread at once, as the
// program's process does as part of its confinement (startProgram).
func dropCaps(mode sentry.NetMode) error {
	d, err := planCapDrop(mode)
	if err != nil {
		return err
	}
	conf := noConfinement()
	conf.setCaps(d)
	return conf.applyHere()
}
