package ike

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// childCreateTask creates an additional Child SA (RFC 7296 §1.3.1) or,
// with old set, rekeys one (childRekeyTask embeds it, §1.3.3).
type childCreateTask struct {
	done    func(error)
	cfg     ChildConfig
	spi     uint32
	ni      []byte
	kex     suite.KeyExchange
	group   wire.DHGroup
	rounds  int
	created *childSA
}

func (t *childCreateTask) exchange() wire.ExchangeType { return wire.ExchangeCreateChildSA }

// prepare allocates the SPI, nonce and (with PFS) key exchange.
func (t *childCreateTask) prepare(sa *ikeSA) error {
	e := sa.e
	if t.spi == 0 {
		spi, err := e.newChildSPI()
		if err != nil {
			return err
		}
		t.spi = spi
	}
	if t.ni == nil {
		ni, err := e.random(nonceLen)
		if err != nil {
			return err
		}
		t.ni = ni
	}
	if t.group == wire.DHNone && len(t.cfg.Proposals) > 0 {
		t.group = t.cfg.Proposals[0].DH
	}
	if t.group != wire.DHNone && (t.kex == nil || t.kex.Group() != t.group) {
		kex, err := suite.NewKeyExchange(t.group, e.rand)
		if err != nil {
			return fmt.Errorf("create_child_sa: %w", err)
		}
		t.kex = kex
	}
	return nil
}

func (t *childCreateTask) payloads(extra ...wire.Payload) []wire.Payload {
	ps := append([]wire.Payload{}, extra...)
	offer := childOffer(t.cfg, t.spi, true)
	ps = append(ps, offer[0], &wire.Nonce{Data: t.ni})
	if t.kex != nil {
		ps = append(ps, &wire.KE{Group: t.group, Data: t.kex.Public()})
	}
	return append(ps, offer[1:]...)
}

func (t *childCreateTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if err := t.prepare(sa); err != nil {
		return nil, err
	}
	return t.payloads(), nil
}

// retryKE handles INVALID_KE_PAYLOAD: another round with the group the
// responder wants, if we offer it.
func (t *childCreateTask) retryKE(m *inMessage) bool {
	n := m.notify(wire.NotifyInvalidKEPayload)
	if n == nil || len(n.Data) != 2 || t.rounds >= 2 {
		return false
	}
	g := wire.DHGroup(binary.BigEndian.Uint16(n.Data))
	if g == t.group || !slices.ContainsFunc(t.cfg.Proposals, func(p suite.Proposal) bool { return p.DH == g }) {
		return false
	}
	t.rounds++
	t.group = g
	return true
}

// complete derives and installs the Child SA from the response.
func (t *childCreateTask) complete(sa *ikeSA, m *inMessage, replaces uint32) error {
	nr := m.nonce()
	if nr == nil {
		if n := m.errorNotify(); n != nil {
			return &NotifyError{Exchange: "CREATE_CHILD_SA", Notify: n.NotifyType, Code: uint16(n.NotifyType)}
		}
		return errors.New("create_child_sa: response without nonce")
	}
	var shared []byte
	if t.kex != nil {
		ke := m.ke()
		if ke != nil {
			if ke.Group != t.group {
				return errors.New("create_child_sa: responder's KE is of another group")
			}
			s, err := t.kex.SharedSecret(ke.Data)
			if err != nil {
				return fmt.Errorf("create_child_sa: %w", err)
			}
			shared = s
		}
	}
	before := len(sa.children)
	err := sa.acceptChild(m, t.cfg, t.spi, t.ni, nr, shared, replaces, true)
	if err != nil {
		return err
	}
	if len(sa.children) > before {
		t.created = sa.children[t.spi]
	}
	return nil
}

func (t *childCreateTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	if t.retryKE(m) {
		return true, nil
	}
	err := t.complete(sa, m, 0)
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
	return false, nil
}

func (t *childCreateTask) fail(sa *ikeSA, err error) {
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

// childRekeyTask rekeys a Child SA: CREATE_CHILD_SA with REKEY_SA, then
// the old SA is deleted, unless a simultaneous rekey by the peer won.
type childRekeyTask struct {
	childCreateTask
	old *childSA
	// auto marks a rekey started by the lifetime timer: if the peer
	// refuses it (TEMPORARY_FAILURE while it rekeys or deletes the same SA),
	// it is retried after a random pause, up to maxRekeyRetries times.
	auto    bool
	retries int
}

// maxRekeyRetries bounds the retries of a timer-driven rekey; the hard
// lifetime ends the SA if none succeeds.
const maxRekeyRetries = 5

// retryDelay is a random pause before a refused rekey is tried again, so
// that two peers that collided do not collide again.
func (e *Engine) retryDelay() time.Duration {
	return e.cfg.RetransmitTimeout + e.jitter(10*e.cfg.RetransmitTimeout)
}

func (t *childRekeyTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if t.old.state != childInstalled && t.old.state != childRekeying || t.old.sa != sa {
		return nil, fmt.Errorf("rekey child sa %08x: %w", t.old.inSPI, ErrNoChildSA)
	}
	t.old.state = childRekeying
	if t.cfg.Name == "" && len(t.cfg.Proposals) == 0 {
		t.cfg = t.old.cfg
		// Keep the negotiated selectors and the accepted algorithm first.
		t.cfg.LocalTS, t.cfg.RemoteTS = t.old.localTS, t.old.remoteTS
		// The negotiated algorithms (with the PFS group the SA was made
		// with, if any) come first, then the configured ones.
		// A Child SA made by IKE_AUTH has no DH group (none is negotiated
		// there); its rekey uses the configured PFS group.
		first := t.old.prop
		if first.DH == wire.DHNone && len(t.old.cfg.Proposals) > 0 {
			first.DH = t.old.cfg.Proposals[0].DH
		}
		t.cfg.Proposals = append([]suite.Proposal{first}, t.old.cfg.Proposals...)
	}
	if err := t.prepare(sa); err != nil {
		return nil, err
	}
	rekey := &wire.Notify{Protocol: wire.ProtocolESP, SPI: binary.BigEndian.AppendUint32(nil, t.old.inSPI), NotifyType: wire.NotifyRekeySA}
	return t.payloads(rekey), nil
}

// process concludes our rekey of t.old as RFC 7296 §2.8.1 says, whatever
// the peer did to the same Child SA while our request was outstanding:
//
//   - Nothing: the new SA replaces the old one, which we delete.
//   - It rekeyed it too (we answered, old.peerRekey): of the two new SAs,
//     the one whose exchange had the lowest nonce is redundant and deleted
//     by the initiator of that exchange; the other initiator deletes the
//     old SA. The loser never deletes the winner's SA or the old one.
//   - It deleted the old SA: a peer does that when its own rekey won (or it
//     saw no collision), so our new SA is redundant if the peer's
//     replacement exists; otherwise (a plain delete) ours carries on.
//
// A refused rekey (TEMPORARY_FAILURE, CHILD_SA_NOT_FOUND) leaves the old SA
// to the peer when the peer has replaced it; only an SA the peer forgot
// without replacing it is negotiated anew.
func (t *childRekeyTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	if t.retryKE(m) {
		return true, nil
	}
	old := t.old
	err := t.complete(sa, m, old.inSPI)
	pr := old.peerRekey
	old.peerRekey = nil
	if pr != nil && pr.child.state == childRemoved {
		pr = nil // the peer deleted its own replacement: it lost
	}
	if err != nil {
		sa.e.log.Info("child sa rekey failed", "in", fmt.Sprintf("%08x", old.inSPI), "err", err)
		t.finish(err)
		switch {
		case old.state == childRemoved:
			// The peer deleted it meanwhile; nothing left to do.
		case pr != nil:
			// The peer's rekey of the same SA stands alone: it deletes
			// the old SA.
			old.awaitPeerDelete()
		default:
			old.state = childInstalled
			var ne *NotifyError
			notFound := errors.As(err, &ne) && ne.Code == uint16(wire.NotifyChildSANotFound)
			if prev := old.sa.children[old.replaces]; notFound && !old.initiator && old.replaces != 0 &&
				prev != nil && prev.state == childRekeyed {
				// We answered the peer's rekey of prev, but the peer never
				// concluded it (strongSwan drops a half-done rekey when
				// the IKE SA is rekeyed under it): prev, which it has not
				// deleted, is still the live SA. Go back to it and rekey
				// it properly.
				sa.e.log.Info("peer never concluded its child sa rekey; keeping the old sa",
					"old", fmt.Sprintf("%08x", prev.inSPI), "unknown", fmt.Sprintf("%08x", old.inSPI))
				old.remove(ErrNoChildSA)
				prev.state = childInstalled
				prev.sa.queueTask(&childRekeyTask{old: prev, auto: true})
				return false, nil
			}
			if notFound && (old.initiator || sa.e.clock.Now().Sub(old.created) >= 2*sa.e.retransmitSpan()) {
				// The peer no longer has it: drop ours and negotiate it
				// anew rather than keep a Child SA that carries nothing.
				// (A Child SA we made as responder may simply not be
				// known yet to its initiator, whose copy of our answer
				// was lost: that is retried like TEMPORARY_FAILURE.)
				cfg := old.cfg
				cfg.LocalTS, cfg.RemoteTS = old.localTS, old.remoteTS
				owner := old.sa
				old.remove(ErrNoChildSA)
				if owner.state == stateEstablished && !owner.hasChild(cfg) {
					owner.queueTask(&childCreateTask{cfg: cfg})
				}
				return false, nil
			}
			t.retry(sa)
		}
		return false, nil
	}
	created := t.created
	switch {
	case old.state == childRemoved:
		// The peer deleted the old SA while we rekeyed it.
		sa.e.log.Debug("child sa deleted by the peer while we rekeyed it", "old", fmt.Sprintf("%08x", old.inSPI), "peer rekeyed", pr != nil)
		if pr != nil && created != nil {
			sa.e.stats.inc(CounterRekeyCollisions)
			created.retire()
		}
	case pr != nil && created != nil:
		sa.e.stats.inc(CounterRekeyCollisions)
		lost := bytes.Compare(minNonce(t.ni, m.nonce()), minNonce(pr.ni, pr.nr)) < 0
		sa.e.log.Debug("child sa rekey collision", "old", fmt.Sprintf("%08x", old.inSPI), "ours", fmt.Sprintf("%08x", created.inSPI),
			"peers", fmt.Sprintf("%08x", pr.child.inSPI), "lost", lost)
		if lost {
			// Our new SA has the lowest nonce: delete it; the peer deletes
			// the old one.
			created.retire()
			old.awaitPeerDelete()
		} else {
			// The peer's new SA is redundant and the peer deletes it.
			pr.child.awaitPeerDelete()
			old.retire()
		}
	default:
		old.retire()
	}
	t.finish(nil)
	return false, nil
}

func (t *childRekeyTask) finish(err error) {
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

func (t *childRekeyTask) fail(sa *ikeSA, err error) {
	old := t.old
	pr := old.peerRekey
	if old.state == childRekeying {
		old.peerRekey = nil
		if pr != nil && pr.child.state != childRemoved {
			old.awaitPeerDelete()
		} else {
			old.state = childInstalled
		}
	}
	if owner := old.sa; owner != sa && old.state == childInstalled && owner.state == stateEstablished {
		// The IKE SA was rekeyed while this task waited in its queue (an
		// IKE SA rekey runs alone) and the Child SA moved to the successor:
		// rekey it there. Dropping the task would leave the Child SA to die
		// at its hard lifetime with nothing to replace it.
		owner.queueTask(&childRekeyTask{childCreateTask: childCreateTask{done: t.done, cfg: t.cfg},
			old: old, auto: t.auto, retries: t.retries})
		return
	}
	t.finish(err)
	if sa.state == stateEstablished {
		t.retry(sa)
	}
}

// retry schedules a timer-driven rekey again after it was refused.
func (t *childRekeyTask) retry(sa *ikeSA) {
	old := t.old
	if !t.auto || t.retries >= maxRekeyRetries || old.state != childInstalled {
		return
	}
	n := t.retries + 1
	old.timers = append(old.timers, sa.e.afterFunc(sa.e.retryDelay(), func() {
		if old.state == childInstalled && old.sa.state == stateEstablished {
			old.sa.queueTask(&childRekeyTask{old: old, auto: true, retries: n})
		}
	}))
}

func minNonce(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// ikeRekeyTask rekeys the IKE SA (RFC 7296 §1.3.2): the new SA inherits
// the Child SAs, then the old one is deleted.
type ikeRekeyTask struct {
	done    func(error)
	auto    bool // started by the lifetime timer; retried when refused
	retries int
	spi     uint64
	ni      []byte
	kex     suite.KeyExchange
	group   wire.DHGroup
	props   []suite.Proposal
	rounds  int
}

func (t *ikeRekeyTask) exchange() wire.ExchangeType { return wire.ExchangeCreateChildSA }
func (t *ikeRekeyTask) exclusive() bool             { return true }

func (t *ikeRekeyTask) build(sa *ikeSA) ([]wire.Payload, error) {
	e := sa.e
	if sa.state != stateEstablished {
		return nil, fmt.Errorf("rekey ike sa: %w", ErrBusy)
	}
	if t.props == nil {
		t.props = []suite.Proposal{sa.prop}
		for _, p := range sa.profile.IKEProposals {
			if p != sa.prop {
				t.props = append(t.props, p)
			}
		}
	}
	if t.group == wire.DHNone {
		t.group = t.props[0].DH
	}
	if t.spi == 0 {
		spi, err := e.newSPI()
		if err != nil {
			return nil, err
		}
		t.spi = spi
		if t.ni, err = e.random(nonceLen); err != nil {
			return nil, err
		}
	}
	if t.kex == nil || t.kex.Group() != t.group {
		kex, err := suite.NewKeyExchange(t.group, e.rand)
		if err != nil {
			return nil, err
		}
		t.kex = kex
	}
	return []wire.Payload{
		wireSA(wire.ProtocolIKE, binary.BigEndian.AppendUint64(nil, t.spi), t.props, true),
		&wire.Nonce{Data: t.ni},
		&wire.KE{Group: t.group, Data: t.kex.Public()},
	}, nil
}

func (t *ikeRekeyTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	if n := m.notify(wire.NotifyInvalidKEPayload); n != nil && len(n.Data) == 2 && t.rounds < 2 {
		g := wire.DHGroup(binary.BigEndian.Uint16(n.Data))
		if g != t.group && slices.ContainsFunc(t.props, func(p suite.Proposal) bool { return p.DH == g }) {
			t.rounds++
			t.group = g
			return true, nil
		}
	}
	err := t.complete(sa, m)
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
	if err != nil {
		sa.e.log.Info("ike sa rekey failed", "spi", hexSPI(sa.localSPI()), "err", err)
		// A rekey by the peer that crossed ours now stands alone.
		sa.settleIKERekey(nil, nil, nil)
		if sa.state == stateEstablished {
			t.retry(sa)
		}
	}
	return false, nil
}

func (t *ikeRekeyTask) retry(sa *ikeSA) {
	if !t.auto || t.retries >= maxRekeyRetries || sa.state != stateEstablished {
		return
	}
	n := t.retries + 1
	sa.addTimer(sa.e.afterFunc(sa.e.retryDelay(), func() {
		if sa.state == stateEstablished {
			sa.queueTask(&ikeRekeyTask{auto: true, retries: n})
		}
	}))
}

func (t *ikeRekeyTask) complete(sa *ikeSA, m *inMessage) error {
	if n := m.errorNotify(); n != nil {
		return &NotifyError{Exchange: "CREATE_CHILD_SA", Notify: n.NotifyType, Code: uint16(n.NotifyType)}
	}
	prop, op, err := acceptedProposal(m.sa(), t.props, wire.ProtocolIKE, false)
	if err != nil {
		return fmt.Errorf("rekey ike sa: %w", err)
	}
	ke, nr := m.ke(), m.nonce()
	if ke == nil || nr == nil || ke.Group != t.group || prop.DH != t.group || len(op.SPI) != 8 {
		return errors.New("rekey ike sa: response lacks KE, nonce or SPI")
	}
	shared, err := t.kex.SharedSecret(ke.Data)
	if err != nil {
		return fmt.Errorf("rekey ike sa: %w", err)
	}
	n, err := sa.rekeyedSA(prop, true, t.spi, op.IKESPI(), t.ni, nr, shared)
	if err != nil {
		return err
	}
	sa.settleIKERekey(n, t.ni, nr)
	return nil
}

func (t *ikeRekeyTask) fail(sa *ikeSA, err error) {
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
	if sa.state == stateEstablished {
		sa.settleIKERekey(nil, nil, nil)
	}
}

// rekeyedSA derives and registers the IKE SA a rekey exchange creates. The
// rekey's initiator becomes the new SA's original initiator. The new SA has
// no Child SAs and no timers until adopt makes it sa's successor.
func (sa *ikeSA) rekeyedSA(prop suite.Proposal, weInitiated bool, spii, spir uint64, ni, nr, shared []byte) (*ikeSA, error) {
	e := sa.e
	keys, err := suite.DeriveRekeyedIKEKeys(prop, sa.prop.PRF, sa.keys.skd(), shared, ni, nr, spii, spir)
	if err != nil {
		return nil, fmt.Errorf("rekey ike sa: %w", err)
	}
	n := e.newIKESA(weInitiated, sa.local, sa.remote)
	n.hs = nil // authenticated already: no IKE_AUTH
	n.spii, n.spir = spii, spir
	if err := n.setProposal(prop); err != nil {
		return nil, err
	}
	if err := n.installKeys(keys); err != nil {
		return nil, err
	}
	n.profile, n.localID, n.remoteID = sa.profile, sa.localID, sa.remoteID
	n.natLocal, n.natRemote, n.peerVendorIDs = sa.natLocal, sa.natRemote, sa.peerVendorIDs
	n.localVendorIDs = sa.localVendorIDs
	n.peerCP, n.localCP = sa.peerCP, sa.localCP
	// IKEv2 authenticates once per session: the certificate the peer
	// proved stays its credential (revocation, expiry, show).
	n.peerCert, n.peerCertReq, n.peerHashes = sa.peerCert, sa.peerCertReq, sa.peerHashes
	n.frag.enabled = sa.frag.enabled // RFC 7383 §2.3: negotiated once, kept across rekeys
	n.peerWindow = sa.peerWindow
	n.state = stateEstablished
	e.addSA(n)
	n.indexRemoteID()
	return n, nil
}

// adopt makes n the successor of sa: the Child SAs move over, n's timers
// start, and sa is deleted, by us if we initiated the winning rekey,
// otherwise by the peer (with an expiry in case it never does).
func (sa *ikeSA) adopt(n *ikeSA, weInitiated bool) {
	e := sa.e
	for spi, c := range sa.children {
		if c.state == childRemoved {
			continue
		}
		c.sa = n
		n.children[spi] = c
		delete(sa.children, spi)
	}
	sa.state = stateRekeyed
	sa.successor = n
	sa.peerIKERekey = nil
	n.rekeyOf = nil
	// Requests still queued here belong to the IKE SA that carries on. A
	// rekey of the IKE SA is done now, and an expiry of this one is moot.
	q := sa.queue
	sa.queue = nil
	for _, t := range q {
		switch t := t.(type) {
		case *ikeRekeyTask:
			if t.done != nil {
				t.done(nil)
				t.done = nil
			}
		case *deleteIKETask:
			if t.done != nil {
				n.queue = append(n.queue, t)
			}
		default:
			n.queue = append(n.queue, t)
		}
	}
	if len(n.queue) > 0 {
		e.later(func() {
			if n.state == stateEstablished {
				n.pump()
			}
		})
	}
	for _, tm := range append(sa.timers, sa.dpdTimer, sa.kaTimer) {
		if tm != nil {
			tm.Stop()
		}
	}
	sa.timers, sa.dpdTimer, sa.kaTimer = nil, nil, nil
	n.startTimers()
	e.emit(Event{Kind: EventIKERekeyed, IKE: n.info(), OldSPI: sa.localSPI()})
	e.log.Info("ike sa rekeyed", "old", hexSPI(sa.localSPI()), "new", hexSPI(n.localSPI()), "peer", sa.remote)
	if weInitiated {
		sa.queueTask(&deleteIKETask{})
	} else {
		sa.expireUnlessDeleted()
	}
}

// expireUnlessDeleted removes an SA the peer is expected to delete if it
// has not done so after a full retransmission cycle.
func (sa *ikeSA) expireUnlessDeleted() {
	sa.addTimer(sa.e.afterFunc(2*sa.e.retransmitSpan(), func() { sa.destroy(ErrDeleted) }))
}

// redundant marks the losing SA of a simultaneous IKE SA rekey: it carries
// nothing and reports no events; its initiator deletes it.
func (n *ikeSA) redundant(weInitiated bool) {
	n.state = stateRekeyed
	if weInitiated {
		n.queueTask(&deleteIKETask{})
	} else {
		n.expireUnlessDeleted()
	}
}

// ikeRekeyRecord is a rekey of this IKE SA the peer completed while ours
// was outstanding (RFC 7296 §2.8.2).
type ikeRekeyRecord struct {
	ni, nr []byte
	sa     *ikeSA
}

// settleIKERekey ends our IKE SA rekey: n is the SA it created, or nil if
// it failed. A rekey by the peer that crossed ours is resolved as RFC 7296
// §2.8.2 says: the SA whose exchange had the lowest nonce is redundant and
// deleted by its initiator; the other one inherits the Child SAs.
func (sa *ikeSA) settleIKERekey(n *ikeSA, ni, nr []byte) {
	pr := sa.peerIKERekey
	if pr != nil && pr.sa.state == stateDead {
		pr = nil
	}
	switch {
	case n == nil && pr == nil:
		return
	case n == nil:
		sa.adopt(pr.sa, false)
	case pr == nil:
		sa.adopt(n, true)
	default:
		sa.e.stats.inc(CounterRekeyCollisions)
		if bytes.Compare(minNonce(ni, nr), minNonce(pr.ni, pr.nr)) < 0 {
			sa.adopt(pr.sa, false)
			n.redundant(true)
		} else {
			sa.adopt(n, true)
			pr.sa.redundant(false)
		}
	}
}

// respondCreateChild answers CREATE_CHILD_SA: a new Child SA, a Child SA
// rekey (REKEY_SA) or an IKE SA rekey (SA of protocol IKE).
func (sa *ikeSA) respondCreateChild(m *inMessage) []wire.Payload {
	e := sa.e
	ni := m.nonce()
	spa := m.sa()
	if ni == nil || spa == nil || len(spa.Proposals) == 0 {
		return []wire.Payload{notify(wire.NotifyInvalidSyntax, nil)}
	}
	nr, err := e.random(nonceLen)
	if err != nil {
		return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
	}
	if spa.Proposals[0].Protocol == wire.ProtocolIKE {
		return sa.respondIKERekey(m, ni, nr)
	}
	cfg := sa.profile.Child
	var old *childSA
	if n := m.notify(wire.NotifyRekeySA); n != nil {
		if n.Protocol != wire.ProtocolESP || len(n.SPI) != 4 {
			return []wire.Payload{notify(wire.NotifyInvalidSyntax, nil)}
		}
		old = sa.childByOutbound(binary.BigEndian.Uint32(n.SPI))
		if old != nil && old.sa != sa {
			// It moved to our successor IKE SA: rekey it there.
			return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
		}
		if old == nil {
			return []wire.Payload{&wire.Notify{Protocol: wire.ProtocolESP, SPI: n.SPI, NotifyType: wire.NotifyChildSANotFound}}
		}
		if old.state == childRekeyed || old.state == childDeleting {
			return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
		}
		cfg = old.cfg
	}
	var replaces uint32
	if old != nil {
		replaces = old.inSPI
	}
	created, ps := sa.respondChild(m, cfg, ni, nr, replaces, &wire.Nonce{Data: nr})
	if old != nil {
		switch {
		case created == nil:
		case old.state == childRekeying:
			// We are rekeying the same SA: remember this exchange's
			// nonces to resolve the collision when our response arrives.
			old.peerRekey = &rekeyRecord{ni: bytes.Clone(ni), nr: nr, child: created}
		case old.state == childInstalled:
			// The peer replaced it and deletes it next: a rekey of ours
			// still waiting in the queue must not replace it a second
			// time, which would leave two Child SAs for one (no collision
			// to resolve).
			old.awaitPeerDelete()
		}
	}
	return ps
}

// respondIKERekey answers the peer's rekey of this IKE SA.
func (sa *ikeSA) respondIKERekey(m *inMessage, ni, nr []byte) []wire.Payload {
	e := sa.e
	ours := false
	for _, p := range sa.inflight {
		if _, ok := p.task.(*ikeRekeyTask); ok {
			ours = true
		} else {
			// A Child SA exchange of ours is outstanding on this SA; moving
			// the Child SAs under it now would lose its outcome. The peer
			// retries (RFC 7296 §2.25).
			return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
		}
	}
	if sa.peerIKERekey != nil {
		return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
	}
	local := []suite.Proposal{sa.prop}
	if sa.profile != nil {
		local = append(local, sa.profile.IKEProposals...)
	}
	if ps, err := e.cfg.Policy.ResponderIKE(sa.local, sa.remote); err == nil {
		local = append(local, ps...)
	}
	prop, op, ok := selectProposal(m.sa(), local, wire.ProtocolIKE, false)
	if !ok || len(op.SPI) != 8 {
		e.stats.inc(CounterNoProposal)
		return []wire.Payload{notify(wire.NotifyNoProposalChosen, nil)}
	}
	ke := m.ke()
	if ke == nil || ke.Group != prop.DH {
		e.stats.inc(CounterInvalidKESent)
		return []wire.Payload{notifyUint16(wire.NotifyInvalidKEPayload, uint16(prop.DH))}
	}
	kex, err := suite.NewKeyExchange(prop.DH, e.rand)
	if err != nil {
		return []wire.Payload{notify(wire.NotifyNoProposalChosen, nil)}
	}
	shared, err := kex.SharedSecret(ke.Data)
	if err != nil {
		nt, ok := suite.NotifyOf(err)
		if !ok {
			nt = wire.NotifyInvalidSyntax
		}
		return []wire.Payload{notify(nt, nil)}
	}
	spir, err := e.newSPI()
	if err != nil {
		return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
	}
	n, err := sa.rekeyedSA(prop, false, op.IKESPI(), spir, ni, nr, shared)
	if err != nil {
		return []wire.Payload{notify(wire.NotifyNoProposalChosen, nil)}
	}
	if ours {
		// Both sides rekey at once: decide when our own exchange ends.
		sa.peerIKERekey = &ikeRekeyRecord{ni: bytes.Clone(ni), nr: nr, sa: n}
		n.rekeyOf = sa
	} else {
		sa.adopt(n, false)
	}
	return []wire.Payload{
		&wire.SA{Proposals: []wire.Proposal{wireProposal(op.Number, wire.ProtocolIKE, binary.BigEndian.AppendUint64(nil, spir), prop, true)}},
		&wire.Nonce{Data: nr},
		&wire.KE{Group: prop.DH, Data: kex.Public()},
	}
}
