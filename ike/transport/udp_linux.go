package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPConfig configures ListenUDP.
type UDPConfig struct {
	// Addrs are the local addresses to bind. Empty binds the IPv4 and IPv6
	// wildcards; the address each datagram arrived on is then learnt from
	// IP_PKTINFO / IPV6_PKTINFO, and replies leave from it.
	Addrs []netip.Addr
	// IKEPort and NATTPort default to 500 and 4500.
	IKEPort, NATTPort uint16
	// NetNS, if set, opens the sockets inside that network namespace: a
	// name under /run/netns (as 'ip netns add' creates) or a path. The
	// sockets stay in it; the process does not move.
	NetNS string
	// OnESP receives ESP-in-UDP datagrams (RFC 3948: a non-zero first word
	// on the NAT-T port). b is valid only during the call; OnESP runs on
	// the socket's reader goroutine and must not block. Without OnESP
	// such datagrams are counted as DropNoESPHandler.
	OnESP func(local, remote netip.AddrPort, b []byte)
	// ReadBuffer and WriteBuffer set SO_RCVBUF/SO_SNDBUF of each socket
	// when non-zero; a hub answering many spokes at once wants more than
	// the kernel default.
	ReadBuffer, WriteBuffer int
	// QueueLen bounds IKE messages waiting for Recv (default 1024); when
	// the queue is full, datagrams are dropped and counted. Once it is
	// three quarters full, new IKE_SA_INIT requests without a COOKIE are
	// shed first (DropShedInit): under a flood of them, the messages of
	// peers that already proved their address (a COOKIE) or hold an SA
	// keep getting through.
	QueueLen int
	// Logger receives setup errors and reader failures, never per-packet
	// events. Nil discards.
	Logger *slog.Logger
}

// UDPStats counts datagrams by fate.
type UDPStats struct {
	RxIKE, RxESP, RxKeepalive  uint64
	TxIKE, TxESP, TxKeepalive  uint64
	DropShort, DropQueueFull   uint64 // runts on 4500 or empty datagrams; Recv too slow
	DropNoESPHandler, TxErrors uint64
	ReadErrors                 uint64
	// DropShedInit counts new IKE_SA_INIT requests without a COOKIE shed
	// because the queue was three quarters full.
	DropShedInit uint64
}

var _ KeepaliveSender = (*UDP)(nil)

// ErrNoSocket is returned by Send when no socket matches the packet's
// local address, port and family.
var ErrNoSocket = errors.New("no socket for local address")

// UDP is the IKE transport on UDP ports 500 and 4500. It is safe for
// concurrent use. Each socket has a reader goroutine; Recv returns the IKE
// messages of all sockets in arrival order.
type UDP struct {
	cfg   UDPConfig
	log   *slog.Logger
	socks []*udpSock
	queue chan Packet
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	rxIKE, rxESP, rxKeepalive, txIKE, txESP, txKeepalive      atomic.Uint64
	dropShort, dropQueueFull, dropNoESP, txErrors, readErrors atomic.Uint64
	dropShedInit                                              atomic.Uint64
}

type udpSock struct {
	conn     *net.UDPConn
	local    netip.AddrPort // bound address; unspecified for the wildcard
	is4      bool
	natt     bool
	wildcard bool
}

// ListenUDP opens the IKE and NAT-T sockets and starts reading.
func ListenUDP(cfg UDPConfig) (*UDP, error) {
	if cfg.IKEPort == 0 {
		cfg.IKEPort = PortIKE
	}
	if cfg.NATTPort == 0 {
		cfg.NATTPort = PortNATT
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	u := &UDP{cfg: cfg, log: cfg.Logger, queue: make(chan Packet, cfg.QueueLen), done: make(chan struct{})}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	addrs := cfg.Addrs
	if len(addrs) == 0 {
		addrs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	}
	open := func() error {
		for _, a := range addrs {
			a = a.Unmap()
			for _, port := range []uint16{cfg.IKEPort, cfg.NATTPort} {
				s, err := listenOne(netip.AddrPortFrom(a, port))
				if err != nil {
					return err
				}
				u.socks = append(u.socks, s)
				if cfg.ReadBuffer > 0 {
					if err := s.conn.SetReadBuffer(cfg.ReadBuffer); err != nil {
						return fmt.Errorf("set read buffer: %w", err)
					}
				}
				if cfg.WriteBuffer > 0 {
					if err := s.conn.SetWriteBuffer(cfg.WriteBuffer); err != nil {
						return fmt.Errorf("set write buffer: %w", err)
					}
				}
				s.natt = port == cfg.NATTPort
			}
		}
		return nil
	}
	var err error
	if cfg.NetNS != "" {
		err = InNetNS(cfg.NetNS, open)
	} else {
		err = open()
	}
	if err != nil {
		for _, s := range u.socks {
			s.conn.Close()
		}
		return nil, fmt.Errorf("listen udp: %w", err)
	}
	for _, s := range u.socks {
		u.wg.Add(1)
		go u.readLoop(s)
	}
	return u, nil
}

func listenOne(ap netip.AddrPort) (*udpSock, error) {
	is4 := ap.Addr().Is4()
	network := "udp6"
	if is4 {
		network = "udp4"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if is4 {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, ap.String())
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	return &udpSock{conn: conn, local: conn.LocalAddr().(*net.UDPAddr).AddrPort(), is4: is4,
		wildcard: ap.Addr().IsUnspecified()}, nil
}

// LocalAddrs returns the bound addresses of all sockets.
func (u *UDP) LocalAddrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(u.socks))
	for i, s := range u.socks {
		out[i] = s.local
	}
	return out
}

// Stats returns a snapshot of the counters.
func (u *UDP) Stats() UDPStats {
	return UDPStats{
		RxIKE: u.rxIKE.Load(), RxESP: u.rxESP.Load(), RxKeepalive: u.rxKeepalive.Load(),
		TxIKE: u.txIKE.Load(), TxESP: u.txESP.Load(), TxKeepalive: u.txKeepalive.Load(),
		DropShort: u.dropShort.Load(), DropQueueFull: u.dropQueueFull.Load(),
		DropNoESPHandler: u.dropNoESP.Load(), TxErrors: u.txErrors.Load(), ReadErrors: u.readErrors.Load(),
		DropShedInit: u.dropShedInit.Load(),
	}
}

func (u *UDP) readLoop(s *udpSock) {
	defer u.wg.Done()
	buf := make([]byte, 65536)
	oob := make([]byte, 256)
	port := s.local.Port()
	for {
		n, oobn, _, raddr, err := s.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			select {
			case <-u.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.readErrors.Add(1)
			continue
		}
		local := s.local
		if dst, ok := pktinfoDst(oob[:oobn]); ok {
			local = netip.AddrPortFrom(dst, port)
		}
		remote := netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
		b := buf[:n]
		if s.natt {
			switch {
			case n == 1 && b[0] == 0xff:
				u.rxKeepalive.Add(1)
				continue
			case n < 4:
				u.dropShort.Add(1)
				continue
			case b[0]|b[1]|b[2]|b[3] != 0:
				if n < 8 {
					u.dropShort.Add(1)
					continue
				}
				if u.cfg.OnESP == nil {
					u.dropNoESP.Add(1)
					continue
				}
				u.rxESP.Add(1)
				u.cfg.OnESP(local, remote, b)
				continue
			}
			b = b[4:]
		}
		if len(b) == 0 {
			u.dropShort.Add(1)
			continue
		}
		if len(u.queue) >= cap(u.queue)-cap(u.queue)/4 && freshInitWithoutCookie(b) {
			u.dropShedInit.Add(1)
			continue
		}
		p := Packet{Local: local, Remote: remote, Data: append([]byte(nil), b...)}
		select {
		case u.queue <- p:
			u.rxIKE.Add(1)
		default:
			u.dropQueueFull.Add(1)
		}
	}
}

// freshInitWithoutCookie reports whether b is an IKE_SA_INIT request that
// starts an SA (zero responder SPI, initiator flag, not a response) and
// does not lead with a COOKIE notify (RFC 7296 §2.6: the COOKIE is the
// first payload). Only the fixed header and the first payload header are
// read; anything shorter or different is not shed here.
func freshInitWithoutCookie(b []byte) bool {
	const (
		hdrLen         = 28
		exchangeInit   = 34
		flagInitiator  = 0x08
		flagResponse   = 0x20
		payloadNotify  = 41
		notifyCookie   = 16390
		notifyTypeOffs = hdrLen + 6 // generic header (4), protocol id, SPI size
	)
	if len(b) < hdrLen || b[18] != exchangeInit || b[19]&flagInitiator == 0 || b[19]&flagResponse != 0 {
		return false
	}
	for _, x := range b[8:16] {
		if x != 0 {
			return false
		}
	}
	if b[16] == payloadNotify && len(b) >= notifyTypeOffs+2 &&
		uint16(b[notifyTypeOffs])<<8|uint16(b[notifyTypeOffs+1]) == notifyCookie {
		return false
	}
	return true
}

// pktinfoDst returns the header destination address from IP_PKTINFO or
// IPV6_PKTINFO control data.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if int(h.Len) < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return netip.Addr{}, false
		}
		data := oob[unix.CmsgLen(0):h.Len]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(pi.Addr), true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(pi.Addr).Unmap(), true
		}
		next := unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return netip.Addr{}, false
}

// pktinfoSrc builds control data that makes a wildcard socket send from src.
func pktinfoSrc(src netip.Addr) []byte {
	if src.Is4() {
		b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
		pi.Spec_dst = src.As4()
		return b
	}
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	pi.Addr = src.As16()
	return b
}

// socketFor picks the socket that sends from local to remote's family.
func (u *UDP) socketFor(local, remote netip.AddrPort) (*udpSock, error) {
	is4 := remote.Addr().Unmap().Is4()
	port := local.Port()
	if port == 0 {
		port = u.cfg.IKEPort
	}
	la := local.Addr().Unmap()
	var wild *udpSock
	for _, s := range u.socks {
		if s.is4 != is4 || s.local.Port() != port {
			continue
		}
		if !la.IsValid() || la.IsUnspecified() {
			if wild == nil || s.wildcard {
				wild = s
			}
			continue
		}
		if s.local.Addr() == la {
			return s, nil
		}
		if s.wildcard {
			wild = s
		}
	}
	if wild != nil {
		return wild, nil
	}
	return nil, fmt.Errorf("send from %v to %v: %w", local, remote, ErrNoSocket)
}

func (u *UDP) write(local, remote netip.AddrPort, b []byte) error {
	s, err := u.socketFor(local, remote)
	if err != nil {
		return err
	}
	var oob []byte
	if s.wildcard && local.Addr().IsValid() && !local.Addr().IsUnspecified() {
		oob = pktinfoSrc(local.Addr().Unmap())
	}
	dst := netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if !s.is4 {
		dst = remote
	}
	if _, _, err := s.conn.WriteMsgUDPAddrPort(b, oob, dst); err != nil {
		u.txErrors.Add(1)
		return fmt.Errorf("send to %v: %w", remote, err)
	}
	return nil
}

// Send implements Transport. From the NAT-T port, the non-ESP marker is
// prepended (RFC 3948 §2.2).
func (u *UDP) Send(p Packet) error {
	select {
	case <-u.done:
		return net.ErrClosed
	default:
	}
	data := p.Data
	if p.Local.Port() == u.cfg.NATTPort {
		data = make([]byte, 4+len(p.Data))
		copy(data[4:], p.Data)
	}
	if err := u.write(p.Local, p.Remote, data); err != nil {
		return err
	}
	u.txIKE.Add(1)
	return nil
}

// SendKeepalive sends a NAT keepalive (a single 0xFF byte, RFC 3948 §2.3)
// from the NAT-T socket of local to remote.
func (u *UDP) SendKeepalive(local, remote netip.AddrPort) error {
	local = netip.AddrPortFrom(local.Addr(), u.cfg.NATTPort)
	if err := u.write(local, remote, []byte{0xff}); err != nil {
		return err
	}
	u.txKeepalive.Add(1)
	return nil
}

// WriteESP sends b, an ESP packet starting with its SPI, UDP-encapsulated
// from the NAT-T socket of local to remote (RFC 3948). b is not retained.
func (u *UDP) WriteESP(local, remote netip.AddrPort, b []byte) error {
	local = netip.AddrPortFrom(local.Addr(), u.cfg.NATTPort)
	if err := u.write(local, remote, b); err != nil {
		return err
	}
	u.txESP.Add(1)
	return nil
}

// Recv implements Transport.
func (u *UDP) Recv(ctx context.Context) (Packet, error) {
	select {
	case p := <-u.queue:
		return p, nil
	case <-u.done:
		return Packet{}, net.ErrClosed
	case <-ctx.Done():
		return Packet{}, ctx.Err()
	}
}

// Close implements Transport: it closes the sockets and waits for the
// reader goroutines to finish.
func (u *UDP) Close() error {
	u.once.Do(func() {
		close(u.done)
		for _, s := range u.socks {
			s.conn.Close()
		}
		u.wg.Wait()
	})
	return nil
}
