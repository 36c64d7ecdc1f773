package ike

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// authTask is the initiator's IKE_AUTH with PSK, creating the first Child SA.
type authTask struct {
	done     func(error)
	childSPI uint32
}

func (t *authTask) exchange() wire.ExchangeType { return wire.ExchangeIKEAuth }

func idPayload(id Identity, responder bool) *wire.ID {
	return &wire.ID{Responder: responder, IDType: id.Type, Data: id.Data}
}

// pskAuth computes the AUTH data of one side (RFC 7296 §2.15).
func (sa *ikeSA) pskAuth(psk []byte, initiatorSide bool, id *wire.ID) []byte {
	var msg, nonce []byte
	if initiatorSide {
		msg, nonce = sa.hs.initReq, sa.hs.nr
	} else {
		msg, nonce = sa.hs.initResp, sa.hs.ni
	}
	var body [256]byte
	return suite.PSKAuthWithPad(sa.prf, sa.e.pskPad(sa.prop.PRF, sa.prf, psk), sa.skp(initiatorSide), msg, nonce, id.AppendBody(body[:0]))
}

// maxPSKPads bounds the cache of pre-shared key pad keys.
const maxPSKPads = 4096

// pskPad returns prf(psk, "Key Pad for IKEv2") (suite.PSKPadKey), computed
// once per PRF and key: a hub authenticates every spoke of a keyring with
// the same key, on both its own AUTH and the peer's.
func (e *Engine) pskPad(id wire.PRFID, prf suite.PRF, psk []byte) []byte {
	m := e.pskPads[id]
	if pad, ok := m[string(psk)]; ok {
		return pad
	}
	if m == nil || len(m) >= maxPSKPads {
		if e.pskPads == nil {
			e.pskPads = make(map[wire.PRFID]map[string][]byte)
		}
		m = make(map[string][]byte)
		e.pskPads[id] = m
	}
	pad := suite.PSKPadKey(prf, psk)
	m[string(psk)] = pad
	return pad
}

func (sa *ikeSA) verifyAuth(psk []byte, initiatorSide bool, id *wire.ID, a *wire.Auth) bool {
	if a == nil || a.Method != wire.AuthSharedKeyMIC || len(psk) == 0 {
		return false
	}
	want := sa.pskAuth(psk, initiatorSide, id)
	return subtle.ConstantTimeCompare(want, a.Data) == 1
}

func defaultID(id Identity, addr netip.AddrPort) Identity {
	if id.IsZero() {
		return IdentityAddr(addr.Addr())
	}
	return id
}

func (t *authTask) build(sa *ikeSA) ([]wire.Payload, error) {
	e, prof := sa.e, sa.profile
	sa.localID = defaultID(prof.LocalID, sa.local)
	idi := idPayload(sa.localID, false)
	ps := []wire.Payload{idi}
	if sa.firstWithPeer() {
		// Only the first IKE SA with a peer says INITIAL_CONTACT, which
		// makes the peer drop whatever older SAs it has with us (RFC 7296
		// §2.4); further SAs to the same peer must not.
		ps = append(ps, notify(wire.NotifyInitialContact, nil))
	}
	certs, auth, err := sa.localAuth(prof, true, idi)
	if err != nil {
		return nil, fmt.Errorf("ike_auth: %w", err)
	}
	ps = append(ps, certs...)
	ps = append(ps, certReqPayload(prof)...)
	if !prof.RemoteID.IsZero() {
		ps = append(ps, idPayload(prof.RemoteID, true))
	}
	ps = append(ps, auth)
	if prof.ConfigRequest != nil {
		req := cloneCP(prof.ConfigRequest)
		req.CFGType = wire.CFGRequest
		sa.localCP = req
		ps = append(ps, req)
	}
	if len(prof.Child.Proposals) > 0 {
		if t.childSPI == 0 {
			spi, err := e.newChildSPI()
			if err != nil {
				return nil, err
			}
			t.childSPI = spi
		}
		ps = append(ps, childOffer(prof.Child, t.childSPI, false)...)
	}
	ps = append(ps, notifyUint32(wire.NotifySetWindowSize, e.cfg.WindowSize))
	return ps, nil
}

// childOffer is the SA, TSi, TSr (and USE_TRANSPORT_MODE) of a Child SA
// request.
func childOffer(cfg ChildConfig, spi uint32, withDH bool) []wire.Payload {
	ps := []wire.Payload{
		wireSA(wire.ProtocolESP, binary.BigEndian.AppendUint32(nil, spi), cfg.Proposals, withDH),
		tsToWire(false, orAny(cfg.LocalTS)),
		tsToWire(true, orAny(cfg.RemoteTS)),
	}
	if cfg.Mode == ModeTransport {
		ps = append(ps, notify(wire.NotifyUseTransportMode, nil))
	}
	return ps
}

// orAny returns ts, or 0.0.0.0/0 and ::/0 when ts is empty (FlexVPN's
// route-based sessions).
func orAny(ts []TrafficSelector) []TrafficSelector {
	if len(ts) == 0 {
		return []TrafficSelector{TSAny4, TSAny6}
	}
	return ts
}

func (t *authTask) process(sa *ikeSA, m *inMessage) (bool, error) {
	e, prof := sa.e, sa.profile
	if n := m.notify(wire.NotifyAuthenticationFailed); n != nil {
		e.stats.inc(CounterAuthFailures)
		return false, fmt.Errorf("ike_auth: %w: peer rejected our authentication", ErrAuthFailed)
	}
	idr, a := m.id(true), m.auth()
	if idr == nil || a == nil {
		if n := m.errorNotify(); n != nil {
			return false, &NotifyError{Exchange: "IKE_AUTH", Notify: n.NotifyType, Code: uint16(n.NotifyType)}
		}
		return false, errors.New("ike_auth: response lacks IDr or AUTH")
	}
	remoteID := Identity{Type: idr.IDType, Data: bytes.Clone(idr.Data)}
	if !prof.RemoteID.IsZero() && !prof.RemoteID.Equal(remoteID) {
		e.stats.inc(CounterAuthFailures)
		return false, fmt.Errorf("ike_auth: %w: peer identity %s, expected %s", ErrAuthFailed, remoteID, prof.RemoteID)
	}
	if err := sa.verifyPeerAuth(prof, false, idr, a, m); err != nil {
		e.stats.inc(CounterAuthFailures)
		return false, fmt.Errorf("ike_auth: peer %s: %w", remoteID, err)
	}
	sa.remoteID = remoteID
	if n := m.notify(wire.NotifyRedirect); n != nil {
		return false, t.followAuthRedirect(sa, n)
	}
	sa.peerCP = cloneCP(m.cp())
	if n := m.notify(wire.NotifySetWindowSize); n != nil && len(n.Data) == 4 {
		sa.peerWindow = max(1, min(binary.BigEndian.Uint32(n.Data), 64))
	}
	sa.established()
	e.stats.inc(CounterIKEUp)
	e.emit(Event{Kind: EventIKEUp, IKE: sa.info()})
	e.log.Info("ike sa up", "spi", hexSPI(sa.localSPI()), "peer", sa.remote, "id", sa.remoteID.String(),
		"proposal", sa.prop.String(), "nat", sa.udpEncap())
	sa.startTimers()

	var childErr error
	if len(prof.Child.Proposals) > 0 {
		childErr = sa.acceptChild(m, prof.Child, t.childSPI, sa.hs.ni, sa.hs.nr, nil, 0, false)
	}
	sa.forgetAuthState()
	if t.done != nil {
		t.done(childErr)
		t.done = nil
	}
	return false, nil
}

// acceptChild handles the Child SA part of a response to our IKE_AUTH or
// CREATE_CHILD_SA request.
func (sa *ikeSA) acceptChild(m *inMessage, cfg ChildConfig, inSPI uint32, ni, nr, shared []byte, replaces uint32, withDH bool) error {
	if n := m.errorNotify(); n != nil {
		return &NotifyError{Exchange: m.hdr.Exchange.String(), Notify: n.NotifyType, Code: uint16(n.NotifyType)}
	}
	prop, op, err := acceptedProposal(m.sa(), cfg.Proposals, wire.ProtocolESP, !withDH)
	if err != nil {
		return fmt.Errorf("child sa: %w", err)
	}
	if withDH && prop.DH == wire.DHNone {
		shared = nil
	}
	tsi, tsr := tsFromWire(m.ts(false)), tsFromWire(m.ts(true))
	if !tsSubset(tsi, orAny(cfg.LocalTS)) || !tsSubset(tsr, orAny(cfg.RemoteTS)) {
		return fmt.Errorf("child sa: %w: responder widened the selectors", ErrTSUnacceptable)
	}
	c := cfg
	if cfg.Mode == ModeTransport && m.notify(wire.NotifyUseTransportMode) == nil {
		c.Mode = ModeTunnel
	}
	_, err = sa.makeChild(childParams{
		cfg: c, prop: prop, inSPI: inSPI, outSPI: op.ESPSPI(), ni: ni, nr: nr, shared: shared,
		weInitiated: true, localTS: tsi, remoteTS: tsr, replaces: replaces,
	})
	return err
}

func (t *authTask) fail(sa *ikeSA, err error) {
	sa.destroy(err)
	if t.done != nil {
		t.done(err)
		t.done = nil
	}
}

// respondAuth is the responder's IKE_AUTH.
func (sa *ikeSA) respondAuth(m *inMessage) ([]wire.Payload, func()) {
	e := sa.e
	failed := func(reason error) ([]wire.Payload, func()) {
		e.stats.inc(CounterAuthFailures)
		e.log.Info("ike_auth failed", "peer", m.remote, "err", reason)
		return []wire.Payload{notify(wire.NotifyAuthenticationFailed, nil)}, func() { sa.destroy(reason) }
	}
	if sa.state != stateConnecting {
		return []wire.Payload{notify(wire.NotifyInvalidSyntax, nil)}, nil
	}
	idi, a := m.id(false), m.auth()
	if idi == nil || a == nil {
		return failed(errors.New("IKE_AUTH without IDi or AUTH (EAP is not supported)"))
	}
	remoteID := Identity{Type: idi.IDType, Data: bytes.Clone(idi.Data)}
	if err := remoteID.validate(); err != nil {
		return failed(err)
	}
	req := ProfileRequest{Local: sa.local, Remote: sa.remote, RemoteID: remoteID, VendorIDs: sa.peerVendorIDs}
	if idr := m.id(true); idr != nil {
		req.LocalID = Identity{Type: idr.IDType, Data: bytes.Clone(idr.Data)}
	}
	req.PeerCert = firstCert(m)
	req.TSi, req.TSr = tsFromWire(m.ts(false)), tsFromWire(m.ts(true))
	prof, err := e.cfg.Policy.MatchProfile(req)
	if err != nil {
		return failed(fmt.Errorf("no profile for %s: %w", remoteID, err))
	}
	sa.notePeerCertReq(m)
	if err := sa.verifyPeerAuth(prof, true, idi, a, m); err != nil {
		return failed(fmt.Errorf("from %s: %w", remoteID, err))
	}
	sa.profile = prof
	sa.remoteID = remoteID
	sa.localID = defaultID(prof.LocalID, sa.local)
	if n := m.notify(wire.NotifySetWindowSize); n != nil && len(n.Data) == 4 {
		sa.peerWindow = max(1, min(binary.BigEndian.Uint32(n.Data), 64))
	}
	if prof.ForceEncap {
		sa.natLocal = true
	}
	idr := idPayload(sa.localID, true)
	certs, auth, err := sa.localAuth(prof, false, idr)
	if err != nil {
		return failed(err)
	}
	ps := append(append([]wire.Payload{idr}, certs...), auth)
	var cp wire.Payload
	childOK := false
	if rn := sa.redirectAuth(req); rn != nil {
		ps = append(ps, rn) // RFC 5685 §6: no Child SA, the client deletes the SA
	} else {
		cp, childOK = sa.respondCP(m, prof)
	}
	if cp != nil {
		ps = append(ps, cp)
	}
	if m.sa() != nil && childOK {
		_, cps := sa.respondChild(m, prof.Child, sa.hs.ni, sa.hs.nr, 0, nil)
		ps = append(ps, cps...)
	}
	ps = append(ps, notifyUint32(wire.NotifySetWindowSize, e.cfg.WindowSize))

	e.leaveHalfOpen(sa) // no longer half-open; its IKE_SA_INIT stays indexed against late retransmissions
	if m.notify(wire.NotifyInitialContact) != nil {
		// The peer rebooted: its older SAs are stale (RFC 7296 §2.4).
		for _, old := range e.sameRemoteID(sa, remoteID, sa.remote.Addr()) {
			if old.state == stateEstablished {
				old.destroy(errors.New("replaced after INITIAL_CONTACT"))
			}
		}
	}
	sa.established()
	e.stats.inc(CounterIKEUp)
	e.emit(Event{Kind: EventIKEUp, IKE: sa.info()})
	e.log.Info("ike sa up", "spi", hexSPI(sa.localSPI()), "peer", sa.remote, "id", sa.remoteID.String(),
		"proposal", sa.prop.String(), "nat", sa.udpEncap())
	sa.startTimers()
	sa.forgetAuthState()
	return ps, nil
}

// forgetAuthState drops what only IKE_AUTH needed once the SA is
// established: the IKE_SA_INIT messages and nonces the AUTH payloads sign
// (RFC 7296 §2.15) and SK_pi/SK_pr, which are wiped. The first Child SA's
// keys are derived by then, rekeys bring their own nonces, and a late
// retransmission of the IKE_SA_INIT request is dropped (the initiator
// cannot have sent IKE_AUTH without our response). On a hub this is
// several hundred bytes per idle session, and keys that are not kept
// cannot leak.
func (sa *ikeSA) forgetAuthState() {
	if sa.hs != nil {
		clear(sa.hs.skpi)
		clear(sa.hs.skpr)
		sa.hs = nil
	}
}

// respondChild negotiates a Child SA as responder (IKE_AUTH or
// CREATE_CHILD_SA) and returns the response's SA, [Nr], [KEr], TSi, TSr, or
// the error notify, and the Child SA it installed (nil on error). In
// CREATE_CHILD_SA a proposal with a DH group means PFS: the request's KE must
// match it (else INVALID_KE_PAYLOAD).
func (sa *ikeSA) respondChild(m *inMessage, cfg ChildConfig, ni, nr []byte, replaces uint32, nonce wire.Payload) (*childSA, []wire.Payload) {
	e := sa.e
	withDH := m.hdr.Exchange == wire.ExchangeCreateChildSA
	prop, op, ok := selectProposal(m.sa(), cfg.Proposals, wire.ProtocolESP, !withDH)
	if !ok {
		e.stats.inc(CounterNoProposal)
		return nil, []wire.Payload{notify(wire.NotifyNoProposalChosen, nil)}
	}
	tsi, tsr := tsFromWire(m.ts(false)), tsFromWire(m.ts(true))
	if len(cfg.RemoteTS) > 0 {
		tsi = NarrowTS(tsi, cfg.RemoteTS)
	}
	if len(cfg.LocalTS) > 0 {
		tsr = NarrowTS(tsr, cfg.LocalTS)
	}
	if len(tsi) == 0 || len(tsr) == 0 {
		e.stats.inc(CounterTSUnacceptable)
		return nil, []wire.Payload{notify(wire.NotifyTSUnacceptable, nil)}
	}
	c := cfg
	c.Mode = ModeTunnel
	if m.notify(wire.NotifyUseTransportMode) != nil && cfg.Mode == ModeTransport {
		c.Mode = ModeTransport
	}
	inSPI, err := e.newChildSPI()
	if err != nil {
		return nil, []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}
	}
	var shared []byte
	var keOut wire.Payload
	if withDH && prop.DH != wire.DHNone {
		ke := m.ke()
		if ke == nil || ke.Group != prop.DH {
			e.stats.inc(CounterInvalidKESent)
			return nil, []wire.Payload{notifyUint16(wire.NotifyInvalidKEPayload, uint16(prop.DH))}
		}
		kex, err := suite.NewKeyExchange(prop.DH, e.rand)
		if err != nil {
			return nil, []wire.Payload{notify(wire.NotifyNoProposalChosen, nil)}
		}
		if shared, err = kex.SharedSecret(ke.Data); err != nil {
			nt, ok := suite.NotifyOf(err)
			if !ok {
				nt = wire.NotifyInvalidSyntax
			}
			return nil, []wire.Payload{notify(nt, nil)}
		}
		keOut = &wire.KE{Group: prop.DH, Data: kex.Public()}
	}
	child, err := sa.makeChild(childParams{
		cfg: c, prop: prop, inSPI: inSPI, outSPI: op.ESPSPI(), ni: ni, nr: nr, shared: shared,
		weInitiated: false, localTS: tsr, remoteTS: tsi, replaces: replaces,
	})
	if err != nil {
		e.log.Warn("child sa install failed", "err", err)
		return nil, []wire.Payload{notify(wire.NotifyNoProposalChosen, nil)}
	}
	ps := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{wireProposal(op.Number, wire.ProtocolESP,
		binary.BigEndian.AppendUint32(nil, inSPI), prop, withDH)}}}
	if nonce != nil {
		ps = append(ps, nonce)
	}
	if keOut != nil {
		ps = append(ps, keOut)
	}
	ps = append(ps, tsToWire(false, tsi), tsToWire(true, tsr))
	if c.Mode == ModeTransport {
		ps = append(ps, notify(wire.NotifyUseTransportMode, nil))
	}
	return child, ps
}

// firstWithPeer reports whether no other IKE SA of ours with the same peer
// address is up or being rekeyed.
func (sa *ikeSA) firstWithPeer() bool {
	for o := sa.e.idx.byPeer[sa.remote.Addr()]; o != nil; o = o.links.peerNext {
		sa.e.idx.scanned++
		if o != sa && o.remote.Addr() == sa.remote.Addr() && (o.state == stateEstablished || o.state == stateRekeyed) {
			return false
		}
	}
	return true
}
