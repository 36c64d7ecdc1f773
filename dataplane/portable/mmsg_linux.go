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

func (m *mmsg) init(c syscall.Conn) error {
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

// recv fills pkts (at most batchSize) with datagrams in one recvmmsg,
// blocking in the runtime poller until at least one arrives; from(i) then
// gives the sender of pkts[i].
func (m *mmsg) recv(pkts []*dataplane.Packet) (int, error) {
	b := &m.rb
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
	err := m.rc.Read(func(fd uintptr) bool {
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
		pkts[i].SetLen(int(b.msgs[i].n))
	}
	return n, nil
}

func (m *mmsg) from(i int) netip.AddrPort { return getSockaddr(&m.rb.names[i]) }

// WriteESPBatch implements BatchUnderlay with sendmmsg.
func (u *UDPUnderlay) WriteESPBatch(bufs [][]byte, remotes []netip.AddrPort) (int, error) {
	return u.send(bufs, remotes)
}

// WriteESPBatch implements BatchUnderlay with sendmmsg.
func (r *RawUnderlay) WriteESPBatch(bufs [][]byte, remotes []netip.AddrPort) (int, error) {
	return r.send(bufs, remotes)
}

// send sends bufs[i] to remotes[i] with sendmmsg and returns how many went
// out; a datagram the kernel refuses is skipped (and reported as the
// error) so that it cannot stall the rest.
func (m *mmsg) send(bufs [][]byte, remotes []netip.AddrPort) (int, error) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	b := &m.wb
	done, sent := 0, 0
	var lastErr error
	for done < len(bufs) {
		n := min(len(bufs)-done, batchSize)
		for i := 0; i < n; i++ {
			buf := bufs[done+i]
			if len(buf) == 0 {
				return sent, errors.New("empty datagram")
			}
			b.iovs[i].Base = &buf[0]
			b.iovs[i].SetLen(len(buf))
			nl := putSockaddr(&b.names[i], m.inet6, remotes[done+i])
			b.msgs[i].hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: nl, Iov: &b.iovs[i]}
			b.msgs[i].hdr.SetIovlen(1)
		}
		var r int
		var errno syscall.Errno
		err := m.rc.Write(func(fd uintptr) bool {
			rr, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			r, errno = int(rr), e
			return true
		})
		switch {
		case err != nil:
			return sent, err
		case errno != 0 || r <= 0:
			lastErr = fmt.Errorf("sendmmsg: %w", errno)
			done++
		default:
			done += r
			sent += r
		}
	}
	return sent, lastErr
}

// Serve reads datagrams in batches (recvmmsg) straight into packet buffers
// and hands them to the backend until the socket is closed or ctx ends.
// It supports only one reader per socket: the receive scratch (message
// headers and source addresses) belongs to the UDPUnderlay, so two Serve
// calls on one UDPUnderlay at once corrupt each other's batches (ListenUDP
// does not set SO_REUSEPORT, so more readers need more local addresses or
// ports, each its own UDPUnderlay).
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
		n, err := u.recv(pkts)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("esp-in-udp read: %w", err)
		}
		for i, p := range pkts[:n] {
			p.Local, p.Remote, p.Encap = u.local, u.from(i), true
		}
		b.underlayRx.Add(uint64(n))
		w.ProcessInbound(pkts[:n])
		s.dispatch(pkts[:n])
	}
}

// Serve reads ESP packets in batches (recvmmsg) and hands them to the
// backend until the socket is closed or ctx ends. IPv4 raw sockets deliver
// the IP header too; it is parsed and stripped.
// Like UDPUnderlay.Serve, it supports only one reader per socket.
func (r *RawUnderlay) Serve(ctx context.Context, b *Backend) error {
	w := b.cfg.Engine.NewWorker()
	pkts := make([]*dataplane.Packet, batchSize)
	for i := range pkts {
		pkts[i] = dataplane.NewPacket(b.cfg.BufferSize)
	}
	batch := make([]*dataplane.Packet, 0, batchSize)
	s := newSender(b)
	for {
		for _, p := range pkts {
			p.Reset()
		}
		n, err := r.recv(pkts)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("raw esp read: %w", err)
		}
		batch = batch[:0]
		for i, p := range pkts[:n] {
			if !r.inet6 {
				if !p.StripOuter() || p.Encap {
					continue
				}
			} else {
				p.Local, p.Remote, p.Encap = netip.AddrPortFrom(r.local, 0), r.from(i), false
			}
			batch = append(batch, p)
		}
		b.underlayRx.Add(uint64(len(batch)))
		w.ProcessInbound(batch)
		s.dispatch(batch)
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
