package ike

import (
	"context"
	"fmt"
	"time"
)

// Dead peer detection per profile (IOS "dpd <interval> <retry>
// {periodic | on-demand}"): every Profile.DPDInterval the engine looks at
// what it heard from the peer. Periodic mode sends a liveness check (an
// empty INFORMATIONAL request) when nothing came from the peer for an
// interval; on-demand mode only when we also sent traffic the peer did not
// answer, so idle tunnels cost nothing. The check is retransmitted every
// DPDRetry up to DPDRetries times; without an answer the peer is dead: the
// IKE SA and its Child SAs are removed and Config.OnEvent gets EventIKEDown
// with Reason ErrPeerDead.
//
// The engine sees IKE messages itself; ESP traffic it learns from the
// caller through ReportTraffic, typically fed from the dataplane's per-SA
// packet counters.

// DefaultDPDRetries is IOS's number of DPD retransmissions.
const DefaultDPDRetries = 5

// ErrPeerDead is the reason an IKE SA is removed when its peer stopped
// answering liveness checks. It wraps ErrTimeout.
var ErrPeerDead = fmt.Errorf("dead peer detected: %w", ErrTimeout)

// ReportTraffic tells the engine that the Child SAs of the IKE SA with our
// SPI ikeSPI carried traffic since the last report: inbound (packets from
// the peer that decrypted) and/or outbound. It feeds dead peer detection;
// an inbound report also proves the peer alive, like an IKE message. Safe
// for concurrent use; it does not wait for the engine. Unknown SPIs are
// ignored.
func (e *Engine) ReportTraffic(ikeSPI uint64, inbound, outbound bool) {
	if !inbound && !outbound {
		return
	}
	e.post(func() {
		sa := e.sas[ikeSPI]
		for sa != nil && sa.successor != nil {
			sa = sa.successor
		}
		if sa == nil || sa.state == stateDead {
			return
		}
		now := e.clock.Now()
		if inbound {
			sa.lastInbound = now
		}
		if outbound {
			sa.lastOutbound = now
		}
	})
}

// ReportTrafficCtx is ReportTraffic that waits until the engine has taken
// the report, for callers that need ordering (tests, batch feeders).
func (e *Engine) ReportTrafficCtx(ctx context.Context, ikeSPI uint64, inbound, outbound bool) error {
	e.ReportTraffic(ikeSPI, inbound, outbound)
	return e.call(ctx, func() {})
}

// dpdDue decides at a DPD tick of interval d whether to check liveness.
func (sa *ikeSA) dpdDue(d time.Duration) bool {
	now := sa.e.clock.Now()
	heard := sa.lastRx
	if sa.lastInbound.After(heard) {
		heard = sa.lastInbound
	}
	if now.Sub(heard) < d {
		return false
	}
	if sa.profile != nil && sa.profile.DPDOnDemand {
		// Only when we sent something the peer has not answered since.
		return sa.lastOutbound.After(heard)
	}
	return true
}

// retransmitPolicy lets a task override the engine's retransmission
// schedule: the first wait, the number of retransmissions and whether the
// wait grows.
type retransmitPolicy interface {
	retransmits(e *Engine) (wait time.Duration, tries int, backoff bool)
}

// retransmits implements retransmitPolicy for the profile's DPD retries;
// an API liveness check (CheckLiveness) and a profile without DPDRetry use
// the engine's schedule.
func (t *dpdTask) retransmits(e *Engine) (time.Duration, int, bool) {
	if t.retry <= 0 {
		return e.cfg.RetransmitTimeout, e.cfg.RetransmitTries, true
	}
	return t.retry, t.tries, false
}

// newDPDTask is a liveness check with the profile's retry schedule.
func (sa *ikeSA) newDPDTask() *dpdTask {
	t := &dpdTask{auto: true}
	if p := sa.profile; p != nil && p.DPDRetry > 0 {
		t.retry, t.tries = p.DPDRetry, p.DPDRetries
		if t.tries <= 0 {
			t.tries = DefaultDPDRetries
		}
	}
	return t
}

// timeoutReason is why an SA dies when request p is never answered.
func timeoutReason(p *pendingReq) error {
	if t, ok := p.task.(*dpdTask); ok && t.auto {
		return ErrPeerDead
	}
	return ErrTimeout
}
