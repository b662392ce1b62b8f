package seccomp

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// The ioctl structures must match linux/seccomp.h byte for byte: the kernel
// checks the size encoded in the ioctl number against them.
func TestNotifLayout(t *testing.T) {
	if got := unsafe.Sizeof(notifReq{}); got != 80 {
		t.Errorf("sizeof(struct seccomp_notif) = %d, want 80", got)
	}
	if got := unsafe.Offsetof(notifReq{}.args); got != 32 {
		t.Errorf("offsetof(seccomp_notif, data.args) = %d, want 32", got)
	}
	if got := unsafe.Sizeof(notifResp{}); got != 24 {
		t.Errorf("sizeof(struct seccomp_notif_resp) = %d, want 24", got)
	}
}

func TestCheckSupport(t *testing.T) {
	// This machine kind has seccomp user notification (README, "Quick start": Debian's kernel).
	if err := CheckSupport(); err != nil {
		t.Fatal(err)
	}
}

// A kernel without user notification is refused up front, by name.
func TestCheckSupportNamesWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "actions_avail")
	if err := os.WriteFile(old, []byte("kill_process kill_thread trap errno trace log allow\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := checkSupport(old)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "user notification") {
		t.Errorf("kernel without user_notif: got %v, want ErrUnsupported naming user notification", err)
	}
	err = checkSupport(filepath.Join(dir, "missing"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "CONFIG_SECCOMP_FILTER") {
		t.Errorf("kernel without seccomp: got %v, want ErrUnsupported naming CONFIG_SECCOMP_FILTER", err)
	}
}
