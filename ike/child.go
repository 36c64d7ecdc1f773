package ike

import (
	"fmt"
	"slices"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

type childState uint8

const (
	childInstalled childState = iota
	childRekeying             // our rekey of it is outstanding
	childRekeyed              // replaced; its Delete is pending
	childDeleting             // our Delete is outstanding
	childRemoved
)

// childSA is a Child SA owned by an IKE SA (field sa), which changes when the
// IKE SA is rekeyed. Owned by the Run goroutine.
type childSA struct {
	sa        *ikeSA
	cfg       ChildConfig
	state     childState
	prop      suite.Proposal
	inSPI     uint32
	outSPI    uint32
	inKeys    ChildKeys
	outKeys   ChildKeys
	localTS   []TrafficSelector
	remoteTS  []TrafficSelector
	initiator bool
	created   time.Time
	replaces  uint32
	timers    []Timer
	lifeTimer Timer // soft rekey, then hard expiry (armChildTimers)

	// peerRekey records a rekey of this SA the peer completed while ours
	// was outstanding (RFC 7296 §2.8.1), to resolve the collision when our
	// response arrives.
	peerRekey *rekeyRecord
}

type rekeyRecord struct {
	ni, nr []byte
	child  *childSA
}

func (c *childSA) public() *ChildSA {
	sa := c.sa
	return &ChildSA{
		IKESA: sa.localSPI(), Name: c.cfg.Name, Mode: c.cfg.Mode, Proposal: c.prop,
		InboundSPI: c.inSPI, OutboundSPI: c.outSPI, InboundKeys: c.inKeys, OutboundKeys: c.outKeys,
		LocalTS: c.localTS, RemoteTS: c.remoteTS, Local: sa.local, Remote: sa.remote,
		UDPEncap: sa.udpEncap(), Replaces: c.replaces, Initiator: c.initiator,
		Created: c.created, Lifetime: c.cfg.Lifetime,
		PeerVendorIDs: sa.peerVendorIDs, LocalVendorIDs: sa.localVendorIDs,
	}
}

func (c *childSA) stopTimers() {
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
	if c.lifeTimer != nil {
		c.lifeTimer.Stop()
		c.lifeTimer = nil
	}
}

// childParams describe a Child SA negotiated by an exchange.
type childParams struct {
	cfg               ChildConfig
	prop              suite.Proposal
	inSPI, outSPI     uint32
	ni, nr            []byte // the exchange's nonces
	shared            []byte // PFS shared secret, nil without PFS
	weInitiated       bool   // we initiated the exchange
	localTS, remoteTS []TrafficSelector
	replaces          uint32
}

// makeChild derives the keys of a Child SA (RFC 7296 §2.17), installs it and
// arms its lifetime timers.
func (sa *ikeSA) makeChild(p childParams) (*childSA, error) {
	encr, integ, err := suite.ChildKeyLengths(p.prop)
	if err != nil {
		return nil, fmt.Errorf("child keys: %w", err)
	}
	km := suite.ChildKeyMaterial(sa.prf, sa.keys.skd(), p.shared, p.ni, p.nr, 2*(encr+integ))
	i2r := ChildKeys{Encr: km[:encr:encr], Integ: km[encr : encr+integ : encr+integ]}
	r2i := ChildKeys{Encr: km[encr+integ : 2*encr+integ : 2*encr+integ], Integ: km[2*encr+integ : 2*(encr+integ)]}
	c := &childSA{
		sa: sa, cfg: p.cfg, prop: p.prop, inSPI: p.inSPI, outSPI: p.outSPI,
		localTS: p.localTS, remoteTS: p.remoteTS, initiator: p.weInitiated,
		created: sa.e.clock.Now(), replaces: p.replaces,
	}
	if p.weInitiated {
		c.outKeys, c.inKeys = i2r, r2i
	} else {
		c.outKeys, c.inKeys = r2i, i2r
	}
	if in := sa.e.cfg.Installer; in != nil {
		if err := in.InstallChildSA(c.public()); err != nil {
			return nil, fmt.Errorf("install child sa: %w", err)
		}
	}
	sa.children[c.inSPI] = c
	sa.e.idx.childSPIs[c.inSPI] = c
	sa.e.stats.inc(CounterChildUp)
	sa.armChildTimers(c)
	kind := EventChildUp
	if p.replaces != 0 {
		kind = EventChildRekeyed
	}
	sa.e.emit(Event{Kind: kind, IKE: sa.info(), Child: c.public()})
	if sa.e.debugOn() {
		sa.e.log.Debug("child sa up", "ike", hexSPI(sa.localSPI()), "in", fmt.Sprintf("%08x", c.inSPI),
			"out", fmt.Sprintf("%08x", c.outSPI), "replaces", fmt.Sprintf("%08x", c.replaces), "initiator", c.initiator,
			"proposal", c.prop.String())
	}
	return c, nil
}

// armChildTimers schedules the soft rekey and hard expiry of c.
func (sa *ikeSA) armChildTimers(c *childSA) {
	lt := c.cfg.Lifetime
	if lt <= 0 {
		return
	}
	soft := lt - c.cfg.RekeyMargin - sa.e.jitter(c.cfg.Jitter)
	if soft <= 0 || c.cfg.RekeyMargin <= 0 {
		soft = lt * 9 / 10
	}
	// One timer at a time (the soft one arms the hard one): a hub keeps
	// these for every idle session.
	e := sa.e
	c.lifeTimer = e.afterFunc(soft, func() {
		if c.state == childInstalled && c.sa.state == stateEstablished {
			c.sa.queueTask(&childRekeyTask{old: c, auto: true})
		}
		if c.state == childRemoved || c.sa.state == stateDead {
			return
		}
		c.lifeTimer = e.afterFunc(max(c.created.Add(lt).Sub(e.clock.Now()), 0), func() {
			if c.state != childRemoved && c.sa.state != stateDead {
				e.log.Info("child sa expired", "ike", hexSPI(c.sa.localSPI()), "in", fmt.Sprintf("%08x", c.inSPI))
				c.sa.queueTask(&deleteChildTask{children: []*childSA{c}})
			}
		})
	})
}

// retire marks c as replaced or redundant and deletes it. From now on the
// peer's rekey of c is refused (TEMPORARY_FAILURE), so that no SA that is
// on its way out gets a successor.
func (c *childSA) retire() {
	if c.state == childRemoved {
		return
	}
	c.state = childRekeyed
	if c.sa.e.debugOn() {
		c.sa.e.log.Debug("child sa retired", "ike", hexSPI(c.sa.localSPI()), "in", fmt.Sprintf("%08x", c.inSPI))
	}
	c.sa.queueTask(&deleteChildTask{children: []*childSA{c}})
}

// awaitPeerDelete marks c as replaced by a rekey whose initiator is the
// peer, which deletes it (RFC 7296 §2.8.1). Should that Delete never come
// (the peer lost track of it), c is deleted by us after two full
// retransmission cycles rather than left installed beside its successor.
func (c *childSA) awaitPeerDelete() {
	if c.state == childRemoved {
		return
	}
	c.state = childRekeyed
	e := c.sa.e
	if e.debugOn() {
		e.log.Debug("child sa replaced by the peer", "ike", hexSPI(c.sa.localSPI()), "in", fmt.Sprintf("%08x", c.inSPI))
	}
	c.timers = append(c.timers, e.afterFunc(2*e.retransmitSpan(), func() {
		if c.state == childRekeyed && c.sa.state == stateEstablished {
			e.stats.inc(CounterRekeyedExpired)
			c.sa.queueTask(&deleteChildTask{children: []*childSA{c}})
		}
	}))
}

// hasChild reports whether a live Child SA of sa (installed or being
// rekeyed) already carries cfg's name and selectors.
func (sa *ikeSA) hasChild(cfg ChildConfig) bool {
	for _, c := range sa.children {
		if (c.state == childInstalled || c.state == childRekeying) && c.cfg.Name == cfg.Name &&
			slices.Equal(c.localTS, cfg.LocalTS) && slices.Equal(c.remoteTS, cfg.RemoteTS) {
			return true
		}
	}
	return false
}

// remove uninstalls c and reports it down.
func (c *childSA) remove(reason error) {
	if c.state == childRemoved {
		return
	}
	c.stopTimers()
	c.state = childRemoved
	sa := c.sa
	if sa.e.debugOn() {
		sa.e.log.Debug("child sa removed", "ike", hexSPI(sa.localSPI()), "in", fmt.Sprintf("%08x", c.inSPI), "reason", reason)
	}
	delete(sa.children, c.inSPI)
	if sa.e.idx.childSPIs[c.inSPI] == c {
		delete(sa.e.idx.childSPIs, c.inSPI)
	}
	if in := sa.e.cfg.Installer; in != nil {
		if err := in.DeleteChildSA(c.public()); err != nil {
			sa.e.log.Warn("delete child sa failed", "in", fmt.Sprintf("%08x", c.inSPI), "err", err)
		}
	}
	sa.e.stats.inc(CounterChildDown)
	sa.e.emit(Event{Kind: EventChildDown, IKE: sa.info(), Child: c.public(), Reason: reason})
}

// addressesChanged re-installs c after the IKE SA followed the peer to a new
// address (NAT mapping change).
func (c *childSA) addressesChanged() {
	if in := c.sa.e.cfg.Installer; in != nil && c.state != childRemoved {
		if err := in.InstallChildSA(c.public()); err != nil {
			c.sa.e.log.Warn("update child sa addresses failed", "err", err)
		}
	}
}

// tsToWire and tsFromWire convert selectors for TSi/TSr payloads.
func tsToWire(responder bool, ts []TrafficSelector) *wire.TrafficSelectors {
	p := &wire.TrafficSelectors{Responder: responder}
	for _, t := range ts {
		typ := wire.TSIPv4AddrRange
		if !t.Is4() {
			typ = wire.TSIPv6AddrRange
		}
		p.Selectors = append(p.Selectors, wire.TrafficSelector{
			TSType: typ, IPProtocol: t.Proto, StartPort: t.StartPort, EndPort: t.EndPort,
			Start: t.Start, End: t.End,
		})
	}
	return p
}

func tsFromWire(p *wire.TrafficSelectors) []TrafficSelector {
	if p == nil {
		return nil
	}
	var out []TrafficSelector
	for _, s := range p.Selectors {
		if s.TSType != wire.TSIPv4AddrRange && s.TSType != wire.TSIPv6AddrRange {
			continue
		}
		t := TrafficSelector{Proto: s.IPProtocol, StartPort: s.StartPort, EndPort: s.EndPort, Start: s.Start, End: s.End}
		if t.Valid() {
			out = append(out, t)
		}
	}
	return out
}

// tsSubset reports whether every selector of got lies within one of offered
// (the responder may only narrow what we proposed).
func tsSubset(got, offered []TrafficSelector) bool {
	if len(got) == 0 {
		return false
	}
	for _, g := range got {
		ok := false
		for _, o := range offered {
			if o.Contains(g) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
