package ike

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// nonceLen is the size of our nonces: at least half the largest PRF key
// (RFC 7296 §2.10), 32 bytes covers SHA2-512.
const nonceLen = 32

// initTask is the initiator's IKE_SA_INIT, including the COOKIE and
// INVALID_KE_PAYLOAD rounds.
type initTask struct {
	done   func(error)
	group  wire.DHGroup
	kex    suite.KeyExchange
	cookie []byte
	rounds int
}

func (t *initTask) exchange() wire.ExchangeType { return wire.ExchangeIKESAInit }

func (t *initTask) build(sa *ikeSA) ([]wire.Payload, error) {
	e := sa.e
	props := sa.profile.IKEProposals
	if t.group == wire.DHNone {
		t.group = props[0].DH
	}
	if t.kex == nil || t.kex.Group() != t.group {
		kex, err := suite.NewKeyExchange(t.group, e.rand)
		if err != nil {
			return nil, fmt.Errorf("ike_sa_init: %w", err)
		}
		t.kex = kex
	}
	if sa.hs.ni == nil {
		ni, err := e.random(nonceLen)
		if err != nil {
			return nil, err
		}
		sa.hs.ni = ni
	}
	var ps []wire.Payload
	if t.cookie != nil {
		ps = append(ps, notify(wire.NotifyCookie, t.cookie))
	}
	ps = append(ps, wireSA(wire.ProtocolIKE, nil, props, true),
		&wire.KE{Group: t.group, Data: t.kex.Public()},
		&wire.Nonce{Data: sa.hs.ni})
	ps = append(ps, e.natdPayloads(sa.spii, 0, sa.local, sa.remote, sa.profile.ForceEncap)...)
	ps = append(ps, e.fragmentationSupported()...)
	ps = append(ps, sa.redirectNotifies()...)
	if sa.profile.wantsSignatures() {
		ps = append(ps, signatureHashes())
	}
	ps = append(ps, e.ourVendorIDs(sa, sa.profile)...)
	return ps, nil
}

func (t *initTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	if n := m.notify(wire.NotifyRedirect); n != nil {
		return t.followInitRedirect(sa, n)
	}
	if n := m.notify(wire.NotifyCookie); n != nil {
		t.rounds++
		if t.rounds > 3 || len(n.Data) == 0 || len(n.Data) > 64 {
			return false, errors.New("ike_sa_init: too many cookie rounds")
		}
		t.cookie = bytes.Clone(n.Data)
		return true, nil
	}
	if n := m.notify(wire.NotifyInvalidKEPayload); n != nil {
		t.rounds++
		if len(n.Data) != 2 || t.rounds > 3 {
			return false, &NotifyError{Exchange: "IKE_SA_INIT", Notify: n.NotifyType, Code: uint16(n.NotifyType)}
		}
		g := wire.DHGroup(binary.BigEndian.Uint16(n.Data))
		ok := g != t.group && slices.ContainsFunc(sa.profile.IKEProposals, func(p suite.Proposal) bool { return p.DH == g })
		if !ok {
			return false, fmt.Errorf("ike_sa_init: peer wants DH group %d, which we do not offer", g)
		}
		sa.e.log.Debug("ike_sa_init: retrying with the peer's DH group", "group", g)
		t.group = g
		return true, nil
	}
	if n := m.errorNotify(); n != nil {
		return false, &NotifyError{Exchange: "IKE_SA_INIT", Notify: n.NotifyType, Code: uint16(n.NotifyType)}
	}
	if m.hdr.SPIr == 0 {
		return false, errors.New("ike_sa_init: response without responder SPI")
	}
	prop, _, err := acceptedProposal(m.sa(), sa.profile.IKEProposals, wire.ProtocolIKE, false)
	if err != nil {
		return false, fmt.Errorf("ike_sa_init: %w", err)
	}
	ke, nr := m.ke(), m.nonce()
	if ke == nil || nr == nil || ke.Group != prop.DH || prop.DH != t.group {
		return false, errors.New("ike_sa_init: response lacks KE or nonce, or uses another DH group")
	}
	shared, err := t.kex.SharedSecret(ke.Data)
	if err != nil {
		return false, fmt.Errorf("ike_sa_init: %w", err)
	}
	sa.spir = m.hdr.SPIr
	sa.hs.nr = bytes.Clone(nr)
	sa.hs.initResp = bytes.Clone(m.raw)
	if err := sa.setProposal(prop); err != nil {
		return false, err
	}
	keys, err := suite.DeriveIKEKeys(prop, sa.hs.ni, sa.hs.nr, shared, sa.spii, sa.spir)
	if err != nil {
		return false, fmt.Errorf("ike_sa_init: %w", err)
	}
	if err := sa.installKeys(keys); err != nil {
		return false, fmt.Errorf("ike_sa_init: %w", err)
	}
	natLocal, natRemote, ok := checkNATD(m, sa.spii, sa.spir)
	if ok {
		sa.natLocal, sa.natRemote = natLocal || sa.profile.ForceEncap, natRemote
		if sa.udpEncap() {
			sa.floatTo4500()
		}
	}
	sa.reportVendorIDs(m.vendorIDs())
	sa.negotiateFragmentation(m)
	sa.notePeerCertInfo(m)
	sa.queueTaskFirst(&authTask{done: t.done})
	return false, nil
}

func (t *initTask) fail(sa *ikeSA, err error) {
	sa.destroy(err)
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

func (sa *ikeSA) setProposal(p suite.Proposal) error {
	prf, err := suite.NewPRF(p.PRF)
	if err != nil {
		return fmt.Errorf("prf: %w", err)
	}
	sa.prop, sa.prf = p, prf
	return nil
}

// initError answers an IKE_SA_INIT request without creating state.
func (e *Engine) initError(p transport.Packet, spii uint64, ps ...wire.Payload) {
	m := wire.Message{
		Header:   wire.Header{SPIi: spii, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse},
		Payloads: ps,
	}
	b, err := m.Encode()
	if err != nil {
		return
	}
	e.send(p.Local, p.Remote, b)
}

// halfOpenCount is the number of responder SAs waiting for IKE_AUTH.
func (e *Engine) halfOpenCount() int { return e.halfOpenN }

// handleInitRequest is the responder's IKE_SA_INIT.
func (e *Engine) handleInitRequest(p transport.Packet) {
	spii := wire.HeaderBytes(p.Data).InitiatorSPI()
	key := halfOpenKey{p.Remote, spii}
	if sa := e.halfOpen[key]; sa != nil {
		// A retransmission: the cached response again (RFC 7296 §2.1).
		e.stats.inc(CounterDupRequests)
		if sa.hs != nil && sa.hs.initResp != nil {
			e.send(p.Local, p.Remote, sa.hs.initResp)
		}
		return
	}
	msg, err := wire.Decode(p.Data)
	if err != nil {
		e.stats.inc(CounterDropMalformed)
		if nt, data, ok := wire.NotifyFor(err); ok {
			e.initError(p, spii, notify(nt, data))
		}
		return
	}
	m := &inMessage{hdr: msg.Header, raw: p.Data, payloads: msg.Payloads, local: p.Local, remote: p.Remote}
	ni, ke, saPayload := m.nonce(), m.ke(), m.sa()
	if ni == nil || ke == nil || saPayload == nil {
		e.stats.inc(CounterDropMalformed)
		e.initError(p, spii, notify(wire.NotifyInvalidSyntax, nil))
		return
	}
	if !e.admitInit(p, m, ni, spii) || e.redirectInit(m, ni, spii) {
		return
	}
	local, err := e.cfg.Policy.ResponderIKE(p.Local, p.Remote)
	if err != nil {
		e.log.Info("ike_sa_init refused by policy", "peer", p.Remote, "err", err)
	}
	prop, op, ok := selectProposal(saPayload, local, wire.ProtocolIKE, false)
	if !ok {
		e.stats.inc(CounterNoProposal)
		e.initError(p, spii, notify(wire.NotifyNoProposalChosen, nil))
		return
	}
	if ke.Group != prop.DH {
		e.stats.inc(CounterInvalidKESent)
		e.initError(p, spii, notifyUint16(wire.NotifyInvalidKEPayload, uint16(prop.DH)))
		return
	}
	kex, err := suite.NewKeyExchange(prop.DH, e.rand)
	if err != nil {
		e.log.Warn("ike_sa_init: key exchange", "err", err)
		return
	}
	shared, err := kex.SharedSecret(ke.Data)
	if err != nil {
		nt, ok := suite.NotifyOf(err)
		if !ok {
			nt = wire.NotifyInvalidSyntax
		}
		e.stats.inc(CounterDropMalformed)
		e.initError(p, spii, notify(nt, nil))
		return
	}
	sa := e.newIKESA(false, p.Local, p.Remote)
	sa.spii = spii
	sa.peerRedirect = peerSupportsRedirect(m)
	if sa.spir, err = e.newSPI(); err != nil {
		return
	}
	if sa.hs.nr, err = e.random(nonceLen); err != nil {
		return
	}
	sa.hs.ni = bytes.Clone(ni)
	if err := sa.setProposal(prop); err != nil {
		return
	}
	keys, err := suite.DeriveIKEKeys(prop, sa.hs.ni, sa.hs.nr, shared, sa.spii, sa.spir)
	if err != nil {
		return
	}
	if err := sa.installKeys(keys); err != nil {
		return
	}
	natLocal, natRemote, natOK := checkNATD(m, spii, 0)
	sa.natLocal, sa.natRemote = natLocal, natRemote
	ps := []wire.Payload{
		&wire.SA{Proposals: []wire.Proposal{wireProposal(op.Number, wire.ProtocolIKE, nil, prop, true)}},
		&wire.KE{Group: prop.DH, Data: kex.Public()},
		&wire.Nonce{Data: sa.hs.nr},
	}
	if natOK {
		ps = append(ps, e.natdPayloads(sa.spii, sa.spir, p.Local, p.Remote, false)...)
	}
	if sa.negotiateFragmentation(m); sa.frag.enabled {
		ps = append(ps, e.fragmentationSupported()...)
	}
	if sa.notePeerCertInfo(m); sa.peerHashes != nil {
		ps = append(ps, signatureHashes())
	}
	for _, tp := range e.cfg.Trustpoints {
		if cr := tp.CertReq(); len(cr) > 0 {
			ps = append(ps, &wire.CertReq{Encoding: wire.CertX509Signature, Authorities: cr})
		}
	}
	ps = append(ps, e.ourVendorIDs(sa, nil)...)
	resp, err := sa.encode(wire.ExchangeIKESAInit, 0, true, ps)
	if err != nil {
		e.log.Warn("ike_sa_init: encode response", "err", err)
		return
	}
	sa.hs.initReq = bytes.Clone(p.Data)
	sa.hs.initResp = resp
	sa.nextPeerID = 1
	sa.peerVendorIDs = nil
	sa.reportVendorIDs(m.vendorIDs())
	e.addSA(sa)
	e.halfOpen[key] = sa
	sa.initKey = key
	e.enterHalfOpen(sa)
	sa.halfOpenTimer = e.afterFunc(e.cfg.HalfOpenTimeout, func() {
		if sa.state == stateConnecting {
			sa.destroy(errors.New("half-open SA timed out waiting for IKE_AUTH"))
		}
	})
	e.send(p.Local, p.Remote, resp)
}
