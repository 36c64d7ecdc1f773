package main

import (
	"net/netip"
	"sync/atomic"

	"github.com/esphub/esphub/control"
	"github.com/esphub/esphub/dataplane"
)

// lateControl hands dataplane reports (hairpin events, punted NHRP) to the
// control daemon, which is built after the dataplane it programs. Until the
// daemon is set, reports are dropped: nothing NHRP needs can happen before
// the first session exists.
type lateControl struct {
	d atomic.Pointer[control.Daemon]
}

func (l *lateControl) set(d *control.Daemon) { l.d.Store(d) }

// Hairpin implements dataplane.EventSink.
func (l *lateControl) Hairpin(ev dataplane.HairpinEvent) {
	if d := l.d.Load(); d != nil {
		d.DataplaneEvents().Hairpin(ev)
	}
}

// SALifetime implements dataplane.EventSink.
func (l *lateControl) SALifetime(ev dataplane.LifetimeEvent) {
	if d := l.d.Load(); d != nil {
		d.DataplaneEvents().SALifetime(ev)
	}
}

// punt is the portable backend's PuntFunc.
func (l *lateControl) punt(t dataplane.TunnelID, proto uint16, payload []byte, remote netip.AddrPort) {
	if d := l.d.Load(); d != nil {
		d.Punt(t, proto, payload, remote)
	}
}
