//go:build !linux

package portable

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/esphub/esphub/dataplane"
)

type mmsg struct{}

// Serve reads datagrams into packet buffers (no copies, no allocations)
// and hands them to the backend until the socket is closed or ctx ends.
// Call it from one goroutine per socket, as on Linux, where the batch
// scratch is per socket.
func (u *UDPUnderlay) Serve(ctx context.Context, b *Backend) error {
	w := b.cfg.Engine.NewWorker()
	p := dataplane.NewPacket(b.cfg.BufferSize)
	for {
		p.Reset()
		n, _, _, from, err := u.conn.ReadMsgUDPAddrPort(p.ReadBuffer(), nil)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("esp-in-udp read: %w", err)
		}
		p.SetLen(n)
		p.Local, p.Remote, p.Encap = u.local, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), true
		b.processInbound(w, p)
	}
}

func (m *mmsg) init(syscall.Conn) error { return nil }

// Serve reads ESP packets and hands them to the backend until the socket is
// closed or ctx ends.
func (r *RawUnderlay) Serve(ctx context.Context, b *Backend) error {
	w := b.cfg.Engine.NewWorker()
	p := dataplane.NewPacket(b.cfg.BufferSize)
	for {
		p.Reset()
		n, from, err := r.conn.ReadFromIP(p.ReadBuffer())
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("raw esp read: %w", err)
		}
		addr, _ := netip.AddrFromSlice(from.IP)
		p.SetLen(n)
		p.Local, p.Remote, p.Encap = netip.AddrPortFrom(r.local, 0), netip.AddrPortFrom(addr.Unmap(), 0), false
		b.processInbound(w, p)
	}
}
