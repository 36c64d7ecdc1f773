package xdp

import (
	"fmt"
	"io"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/dataplane/hdr"
)

// kernelPath hands whole IP packets to the kernel's IP output through raw
// sockets (IPPROTO_RAW: the packet carries its own header), so that the
// kernel routes them and resolves ARP/ND for next hops the backend cannot
// address yet. It is safe for concurrent use; it is the slow path and may
// allocate.
type kernelPath struct {
	fd4, fd6 int
	sent     atomic.Uint64
	errors   atomic.Uint64
}

// openKernelPath opens the raw sockets in the calling thread's network
// namespace.
func openKernelPath() (*kernelPath, error) {
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("kernel path: raw IPv4 socket: %w", err)
	}
	fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		unix.Close(fd4)
		return nil, fmt.Errorf("kernel path: raw IPv6 socket: %w", err)
	}
	return &kernelPath{fd4: fd4, fd6: fd6}, nil
}

// send writes the IP packet b to the kernel.
func (k *kernelPath) send(b []byte) {
	var err error
	switch hdr.IPVersion(b) {
	case 4:
		if len(b) < hdr.IPv4MinLen {
			k.errors.Add(1)
			return
		}
		to := unix.SockaddrInet4{}
		copy(to.Addr[:], b[16:20])
		err = unix.Sendto(k.fd4, b, unix.MSG_DONTWAIT, &to)
	case 6:
		if len(b) < hdr.IPv6Len {
			k.errors.Add(1)
			return
		}
		to := unix.SockaddrInet6{}
		copy(to.Addr[:], b[24:40])
		err = unix.Sendto(k.fd6, b, unix.MSG_DONTWAIT, &to)
	default:
		k.errors.Add(1)
		return
	}
	if err != nil {
		k.errors.Add(1)
		return
	}
	k.sent.Add(1)
}

// sendVRF hands the IP packet b of a VRF to the kernel through the VRF's
// device, which makes the kernel route it in the VRF's table. The packet's
// TTL was already decremented for this hop, and the kernel will do so
// again as it forwards from the device: restore it first. Without a device
// the packet is counted as an error.
func (k *kernelPath) sendVRF(dev io.Writer, b []byte) {
	if dev == nil {
		k.errors.Add(1)
		return
	}
	incTTL(b)
	if _, err := dev.Write(b); err != nil {
		k.errors.Add(1)
		return
	}
	k.sent.Add(1)
}

func (k *kernelPath) close() {
	unix.Close(k.fd4)
	unix.Close(k.fd6)
}
