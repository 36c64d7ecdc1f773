package ike

import (
	"errors"
	"fmt"
	"time"

	"github.com/esphub/esphub/ike/wire"
)

// ErrPeerDeleted is the reason given when the peer deleted an SA.
var ErrPeerDeleted = errors.New("deleted by peer")

// deleteIKETask deletes the IKE SA with all its Child SAs (RFC 7296 §1.4.1).
type deleteIKETask struct {
	done func(error)
}

func (t *deleteIKETask) exchange() wire.ExchangeType { return wire.ExchangeInformational }
func (t *deleteIKETask) exclusive() bool             { return true }

func (t *deleteIKETask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.state == stateEstablished {
		sa.state = stateDeleting
	}
	return []wire.Payload{wire.DeleteIKE()}, nil
}

func (t *deleteIKETask) process(sa *ikeSA, m *inMessage) (bool, error) {
	sa.destroy(nil)
	t.fail(sa, nil)
	return false, nil
}

func (t *deleteIKETask) fail(sa *ikeSA, err error) {
	// Whether or not the peer answered, the SA is gone.
	sa.destroy(err)
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

// deleteChildTask deletes Child SAs (RFC 7296 §1.4.1): the Delete payload
// carries our inbound SPIs; the peer answers with its own.
type deleteChildTask struct {
	done     func(error)
	children []*childSA
}

func (t *deleteChildTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

// errMoved fails a task whose work was handed to another IKE SA.
var errMoved = errors.New("moved to the successor IKE SA")

func (t *deleteChildTask) build(sa *ikeSA) ([]wire.Payload, error) {
	var spis []uint32
	var here, moved []*childSA
	for _, c := range t.children {
		switch {
		case c.state == childRemoved:
		case c.sa != sa:
			// The IKE SA was rekeyed while this task waited (an IKE SA
			// rekey runs alone) and the Child SA moved on: delete it
			// there, or it stays installed until nobody remembers it.
			moved = append(moved, c)
		default:
			c.state = childDeleting
			spis = append(spis, c.inSPI)
			here = append(here, c)
		}
	}
	for len(moved) > 0 {
		owner := moved[0].sa
		var mine, rest []*childSA
		for _, c := range moved {
			if c.sa == owner {
				mine = append(mine, c)
			} else {
				rest = append(rest, c)
			}
		}
		moved = rest
		nt := &deleteChildTask{children: mine}
		if len(here) == 0 {
			nt.done, t.done = t.done, nil
		}
		owner.queueTask(nt)
	}
	t.children = here
	if len(spis) == 0 {
		if t.done == nil {
			return nil, errMoved
		}
		return nil, ErrNoChildSA
	}
	return []wire.Payload{wire.DeleteChild(wire.ProtocolESP, spis...)}, nil
}

func (t *deleteChildTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	t.removeAll(nil)
	return false, nil
}

func (t *deleteChildTask) removeAll(err error) {
	for _, c := range t.children {
		c.remove(nil)
	}
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

func (t *deleteChildTask) fail(sa *ikeSA, err error) {
	if errors.Is(err, ErrNoChildSA) || errors.Is(err, errMoved) {
		if t.done != nil {
			t.done(err)
			t.done = nil
		}
		return
	}
	t.removeAll(err)
}

// dpdTask is a liveness check: an empty INFORMATIONAL request (RFC 7296
// §1.4). No answer after the retransmissions kills the IKE SA.
type dpdTask struct {
	done  func(error)
	auto  bool          // started by the DPD timer, not CheckLiveness
	retry time.Duration // profile's retry interval (dpd.go); zero: engine schedule
	tries int
}

func (t *dpdTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (t *dpdTask) build(sa *ikeSA) ([]wire.Payload, error) { return nil, nil }

func (t *dpdTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	t.fail(sa, nil)
	return false, nil
}

func (t *dpdTask) fail(sa *ikeSA, err error) {
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

// respondInformational answers Delete payloads and liveness checks.
func (sa *ikeSA) respondInformational(m *inMessage) ([]wire.Payload, func()) {
	var ours []uint32
	for _, d := range m.deletes() {
		switch d.Protocol {
		case wire.ProtocolIKE:
			sa.e.log.Info("ike sa deleted by peer", "spi", hexSPI(sa.localSPI()), "peer", sa.remote)
			if pr := sa.peerIKERekey; pr != nil && pr.sa.state != stateDead && sa.state == stateEstablished {
				// Our rekey crossed the peer's, which it concluded first
				// (it won, or never saw ours): the SA its exchange made
				// carries on with the Child SAs (RFC 7296 §2.8.2).
				sa.e.stats.inc(CounterRekeyCollisions)
				sa.adopt(pr.sa, false)
			}
			if sa.state == stateEstablished {
				sa.state = stateDeleting
			}
			return nil, func() { sa.destroy(ErrPeerDeleted) }
		case wire.ProtocolESP, wire.ProtocolAH:
			if d.SPISize != 4 {
				continue
			}
			for i := range d.NumSPIs() {
				c := sa.childByOutbound(d.ESPSPI(i))
				if c == nil {
					continue
				}
				// A Child SA we are deleting ourselves is not listed again
				// (RFC 7296 §1.4.1, simultaneous deletes).
				if c.state != childDeleting {
					ours = append(ours, c.inSPI)
				}
				c.remove(ErrPeerDeleted)
			}
		}
	}
	if len(ours) > 0 {
		return []wire.Payload{wire.DeleteChild(wire.ProtocolESP, ours...)}, nil
	}
	return nil, nil
}

// startTimers arms the IKE SA's lifetime, liveness and keepalive timers.
func (sa *ikeSA) startTimers() {
	e, prof := sa.e, sa.profile
	if prof == nil {
		return
	}
	if lt := prof.Lifetime; lt > 0 {
		soft := lt - prof.RekeyMargin - e.jitter(prof.Jitter)
		if prof.RekeyMargin <= 0 || soft <= 0 {
			soft = lt * 9 / 10
		}
		// One timer at a time (the soft one arms the hard one), counted
		// from now: a rekeyed SA starts its own lifetime here too.
		hard := e.clock.Now().Add(lt)
		sa.lifeTimer = e.afterFunc(soft, func() {
			if sa.state != stateEstablished {
				return
			}
			sa.queueTask(&ikeRekeyTask{auto: true})
			sa.lifeTimer = e.afterFunc(max(hard.Sub(e.clock.Now()), 0), func() {
				if sa.state == stateEstablished {
					e.log.Info("ike sa expired", "spi", hexSPI(sa.localSPI()))
					sa.queueTask(&deleteIKETask{})
				}
			})
		})
	}
	if pc := sa.peerCert; pc != nil && prof.CertLifetime && !pc.NotAfter.IsZero() {
		d := max(pc.NotAfter.Sub(e.clock.Now()), 0)
		sa.addTimer(e.afterFunc(d, func() {
			if sa.state == stateEstablished {
				e.log.Info("ike sa ends with the peer certificate", "spi", hexSPI(sa.localSPI()), "not_after", pc.NotAfter)
				sa.queueTask(&deleteIKETask{})
			}
		}))
	}
	if d := prof.DPDInterval; d > 0 {
		sa.scheduleDPD(d)
	}
	if d := prof.NATKeepalive; d > 0 {
		sa.scheduleKeepalive(d)
	}
}

func (sa *ikeSA) scheduleDPD(d time.Duration) {
	sa.dpdTimer = sa.e.afterFunc(d, func() {
		if sa.state != stateEstablished {
			return
		}
		if sa.dpdDue(d) && len(sa.inflight) == 0 && len(sa.queue) == 0 {
			sa.e.stats.inc(CounterDPDChecks)
			sa.queueTask(sa.newDPDTask())
		}
		sa.scheduleDPD(d)
	})
}

func (sa *ikeSA) scheduleKeepalive(d time.Duration) {
	sa.kaTimer = sa.e.afterFunc(d, func() {
		if sa.state != stateEstablished && sa.state != stateDeleting {
			return
		}
		if ks, ok := sa.e.cfg.Transport.(KeepaliveSender); ok && sa.natLocal {
			if err := ks.SendKeepalive(sa.local, sa.remote); err != nil {
				sa.e.log.Debug("nat keepalive failed", "err", fmt.Sprint(err))
			}
		}
		sa.scheduleKeepalive(d)
	})
}
