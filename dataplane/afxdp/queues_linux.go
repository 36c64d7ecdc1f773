package afxdp

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolChannels is struct ethtool_channels (linux/ethtool.h).
type ethtoolChannels struct {
	Cmd                                       uint32
	MaxRX, MaxTX, MaxOther, MaxCombined       uint32
	RXCount, TXCount, OtherCount, CombinedCnt uint32
}

// ifreqData is struct ifreq with its union used as ifr_data.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// RXQueues returns how many receive queues the interface has active (its
// receive-only plus combined channels, as `ethtool -l` shows them), which is
// how many sockets cover all its traffic. It asks the kernel of the calling
// thread's network namespace. A driver that cannot report channels has one
// queue.
func RXQueues(ifname string) (int, error) {
	if len(ifname) >= unix.IFNAMSIZ || ifname == "" {
		return 0, fmt.Errorf("rx queues of %q: invalid interface name", ifname)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("rx queues of %s: %w", ifname, err)
	}
	defer unix.Close(fd)
	ch := ethtoolChannels{Cmd: unix.ETHTOOL_GCHANNELS}
	var ifr ifreqData
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(&ch)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ch)
	switch errno {
	case 0:
	case unix.EOPNOTSUPP:
		return 1, nil
	default:
		return 0, fmt.Errorf("rx queues of %s: %w", ifname, errno)
	}
	if n := int(ch.RXCount + ch.CombinedCnt); n > 0 {
		return n, nil
	}
	return 1, nil
}
