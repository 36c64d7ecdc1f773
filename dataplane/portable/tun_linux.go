package portable

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

const (
	tunSetIff = 0x400454ca // TUNSETIFF
	iffTun    = 0x0001
	iffNoPI   = 0x1000
)

// TUN is a Linux TUN device (IFF_TUN|IFF_NO_PI): each Read returns one IP
// packet and each Write sends one. It uses the runtime poller, so Close
// unblocks a pending Read. Configure addresses, MTU and link state with
// netlink or ip(8); the device disappears when closed.
type TUN struct {
	f    *os.File
	name string
}

// OpenTUN creates (or attaches to) the TUN device name in the calling
// thread's network namespace.
func OpenTUN(name string) (*TUN, error) {
	if len(name) >= 16 {
		return nil, fmt.Errorf("open tun %q: name longer than 15 bytes", name)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open tun %q: %w", name, err)
	}
	var ifr [40]byte
	copy(ifr[:16], name)
	*(*uint16)(unsafe.Pointer(&ifr[16])) = iffTun | iffNoPI
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("open tun %q: TUNSETIFF: %w", name, errno)
	}
	n := 0
	for n < 16 && ifr[n] != 0 {
		n++
	}
	return &TUN{f: os.NewFile(uintptr(fd), "/dev/net/tun"), name: string(ifr[:n])}, nil
}

// Name returns the device name the kernel assigned.
func (t *TUN) Name() string { return t.name }

// Read reads one packet into b.
func (t *TUN) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write writes one packet.
func (t *TUN) Write(b []byte) (int, error) { return t.f.Write(b) }

// Close closes the device.
func (t *TUN) Close() error { return t.f.Close() }
