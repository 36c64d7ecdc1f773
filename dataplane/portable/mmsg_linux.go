package portable

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/dataplane"
)

// batchSize is how many datagrams one recvmmsg/sendmmsg moves at most.
const batchSize = 32

// mmsghdr is struct mmsghdr: a msghdr and the byte count the kernel fills
// in, padded to pointer alignment.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// mmsgBatch is the scratch memory of one batched call: message headers
// pointing at iovecs and socket addresses. It is reused across calls, so
// steady-state batches allocate nothing.
type mmsgBatch struct {
	msgs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6
}

// mmsg holds the batch state of a UDPUnderlay: the raw connection, the
// socket family, and scratch for the reader (single goroutine) and writers
// (serialised by wmu).
type mmsg struct {
	rc    syscall.RawConn
	inet6 bool
	rb    mmsgBatch
	wmu   sync.Mutex
	wb    mmsgBatch
}

func (m *mmsg) init(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		sa, serr = unix.Getsockname(int(fd))
		_, m.inet6 = sa.(*unix.SockaddrInet6)
	}); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	m.rc = rc
	return nil
}

func putSockaddr(rsa *unix.RawSockaddrInet6, inet6 bool, ap netip.AddrPort) uint32 {
	port := ap.Port()
	if !inet6 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().Unmap().As4()}
		sa4.Port = port<<8 | port>>8
		return unix.SizeofSockaddrInet4
	}
	*rsa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	if ap.Addr().Is4() {
		rsa.Addr = netip.AddrFrom16(ap.Addr().As16()).As16() // As16 of a v4 address is v4-mapped
	}
	rsa.Port = port<<8 | port>>8
	return unix.SizeofSockaddrInet6
}

func getSockaddr(rsa *unix.RawSockaddrInet6) netip.AddrPort {
	switch rsa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), sa4.Port<<8|sa4.Port>>8)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(rsa.Addr).Unmap(), rsa.Port<<8|rsa.Port>>8)
	}
	return netip.AddrPort{}
}

// readBatch fills pkts (at most batchSize) with datagrams in one recvmmsg,
// blocking in the runtime poller until at least one arrives.
func (u *UDPUnderlay) readBatch(pkts []*dataplane.Packet) (int, error) {
	b := &u.rb
	if len(pkts) > batchSize {
		pkts = pkts[:batchSize]
	}
	for i, p := range pkts {
		buf := p.ReadBuffer()
		b.iovs[i].Base = &buf[0]
		b.iovs[i].SetLen(len(buf))
		b.msgs[i].hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: unix.SizeofSockaddrInet6, Iov: &b.iovs[i]}
		b.msgs[i].hdr.SetIovlen(1)
	}
	var n int
	var errno syscall.Errno
	err := u.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(pkts)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	for i := 0; i < n; i++ {
		p := pkts[i]
		p.SetLen(int(b.msgs[i].n))
		p.Local, p.Remote, p.Encap = u.local, getSockaddr(&b.names[i]), true
	}
	return n, nil
}

// WriteESPBatch implements BatchUnderlay with sendmmsg: it sends bufs[i]
// to remotes[i] and returns how many were sent.
func (u *UDPUnderlay) WriteESPBatch(bufs [][]byte, remotes []netip.AddrPort) (int, error) {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	b := &u.wb
	sent := 0
	for sent < len(bufs) {
		n := min(len(bufs)-sent, batchSize)
		for i := 0; i < n; i++ {
			buf := bufs[sent+i]
			if len(buf) == 0 {
				return sent, errors.New("empty datagram")
			}
			b.iovs[i].Base = &buf[0]
			b.iovs[i].SetLen(len(buf))
			nl := putSockaddr(&b.names[i], u.inet6, remotes[sent+i])
			b.msgs[i].hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: nl, Iov: &b.iovs[i]}
			b.msgs[i].hdr.SetIovlen(1)
		}
		var r int
		var errno syscall.Errno
		err := u.rc.Write(func(fd uintptr) bool {
			rr, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			r, errno = int(rr), e
			return true
		})
		if err != nil {
			return sent, err
		}
		if errno != 0 {
			// One bad destination must not stall the rest: skip it.
			sent++
			if sent == len(bufs) {
				return sent, fmt.Errorf("sendmmsg: %w", errno)
			}
			continue
		}
		sent += r
	}
	return sent, nil
}

// Serve reads datagrams in batches (recvmmsg) straight into packet buffers
// and hands them to the backend until the socket is closed or ctx ends.
func (u *UDPUnderlay) Serve(ctx context.Context, b *Backend) error {
	w := b.cfg.Engine.NewWorker()
	pkts := make([]*dataplane.Packet, batchSize)
	for i := range pkts {
		pkts[i] = dataplane.NewPacket(b.cfg.BufferSize)
	}
	s := newSender(b)
	for {
		for _, p := range pkts {
			p.Reset()
		}
		n, err := u.readBatch(pkts)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("esp-in-udp read: %w", err)
		}
		b.underlayRx.Add(uint64(n))
		w.ProcessInbound(pkts[:n])
		s.dispatch(pkts[:n])
	}
}

// ReadBatch implements BatchOverlay: it reads as many packets as are ready
// (at least one, blocking in the poller) with one wakeup.
func (t *TUN) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for n < len(pkts) {
			r, e := unix.Read(int(fd), pkts[n].ReadBuffer())
			if e == unix.EAGAIN || e == unix.EINTR {
				return n > 0
			}
			if e != nil {
				rerr = e
				return true
			}
			pkts[n].SetLen(r)
			n++
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, rerr
}
