package ike

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// task is one exchange we initiate. Its role (initiator) is fixed by its
// type; the responder half of each exchange is in respond*.go.
type task interface {
	exchange() wire.ExchangeType
	// build returns the request's payloads. It is called again for the
	// same message ID when process asks for another round.
	build(sa *ikeSA) ([]wire.Payload, error)
	// process handles the authenticated response. again=true sends a
	// rebuilt request under the same message ID (the COOKIE and
	// INVALID_KE_PAYLOAD rounds of IKE_SA_INIT).
	process(sa *ikeSA, m *inMessage) (again bool, err error)
	// fail reports that the exchange will never complete.
	fail(sa *ikeSA, err error)
}

// exclusiveTask is a task that must run alone in the window (IKE SA rekey
// and delete: nothing may overlap them).
type exclusiveTask interface{ exclusive() bool }

// inMessage is a received, authenticated and decoded message. Payloads alias
// raw and the decryption buffer, which live as long as the message.
type inMessage struct {
	hdr      wire.Header
	raw      []byte
	payloads []wire.Payload
	local    netip.AddrPort
	remote   netip.AddrPort
}

func (m *inMessage) notify(t wire.NotifyType) *wire.Notify {
	for _, p := range m.payloads {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// errorNotify returns the first error notify, if any.
func (m *inMessage) errorNotify() *wire.Notify {
	for _, p := range m.payloads {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType.IsError() {
			return n
		}
	}
	return nil
}

func (m *inMessage) sa() *wire.SA {
	for _, p := range m.payloads {
		if s, ok := p.(*wire.SA); ok {
			return s
		}
	}
	return nil
}

func (m *inMessage) ke() *wire.KE {
	for _, p := range m.payloads {
		if s, ok := p.(*wire.KE); ok {
			return s
		}
	}
	return nil
}

func (m *inMessage) nonce() []byte {
	for _, p := range m.payloads {
		if s, ok := p.(*wire.Nonce); ok {
			return s.Data
		}
	}
	return nil
}

func (m *inMessage) id(responder bool) *wire.ID {
	for _, p := range m.payloads {
		if s, ok := p.(*wire.ID); ok && s.Responder == responder {
			return s
		}
	}
	return nil
}

func (m *inMessage) auth() *wire.Auth {
	for _, p := range m.payloads {
		if s, ok := p.(*wire.Auth); ok {
			return s
		}
	}
	return nil
}

func (m *inMessage) ts(responder bool) *wire.TrafficSelectors {
	for _, p := range m.payloads {
		if s, ok := p.(*wire.TrafficSelectors); ok && s.Responder == responder {
			return s
		}
	}
	return nil
}

func (m *inMessage) deletes() []*wire.Delete {
	var ds []*wire.Delete
	for _, p := range m.payloads {
		if d, ok := p.(*wire.Delete); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

func (m *inMessage) vendorIDs() [][]byte {
	var vs [][]byte
	for _, p := range m.payloads {
		if v, ok := p.(*wire.VendorID); ok {
			vs = append(vs, bytes.Clone(v.Data))
		}
	}
	return vs
}

func notify(t wire.NotifyType, data []byte) *wire.Notify {
	return &wire.Notify{NotifyType: t, Data: data}
}

func notifyUint16(t wire.NotifyType, v uint16) *wire.Notify {
	return notify(t, binary.BigEndian.AppendUint16(nil, v))
}

func notifyUint32(t wire.NotifyType, v uint32) *wire.Notify {
	return notify(t, binary.BigEndian.AppendUint32(nil, v))
}

// header returns the IKE header of a message of ours on this SA.
func (sa *ikeSA) header(exch wire.ExchangeType, id uint32, response bool) wire.Header {
	h := wire.Header{SPIi: sa.spii, SPIr: sa.spir, Exchange: exch, MessageID: id}
	if sa.initiator {
		h.Flags |= wire.FlagInitiator
	}
	if response {
		h.Flags |= wire.FlagResponse
	}
	return h
}

// encode builds a message of ours: IKE_SA_INIT in clear, anything else in an
// SK payload.
func (sa *ikeSA) encode(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([]byte, error) {
	h := sa.header(exch, id, response)
	if exch == wire.ExchangeIKESAInit {
		m := wire.Message{Header: h, Payloads: ps}
		return m.Encode()
	}
	out, err := sa.outCipher()
	if err != nil {
		return nil, err
	}
	return wire.AppendProtected(make([]byte, 0, 256), h, nil, ps, out, sa.e.rand)
}

// queueTask appends t to the SA's queue and starts what the window allows.
func (sa *ikeSA) queueTask(t task) {
	sa.queue = append(sa.queue, t)
	sa.pump()
}

// queueTaskFirst puts t at the head of the queue (IKE_AUTH after IKE_SA_INIT).
func (sa *ikeSA) queueTaskFirst(t task) {
	sa.queue = append([]task{t}, sa.queue...)
	sa.pump()
}

// pump starts queued tasks while the peer's window has room.
func (sa *ikeSA) pump() {
	for len(sa.queue) > 0 && sa.state != stateDead && uint32(len(sa.inflight)) < sa.peerWindow {
		t := sa.queue[0]
		if x, ok := t.(exclusiveTask); ok && x.exclusive() && len(sa.inflight) > 0 {
			return
		}
		for _, p := range sa.inflight {
			if x, ok := p.task.(exclusiveTask); ok && x.exclusive() {
				return
			}
		}
		if sa.state == stateConnecting {
			if _, ok := t.(*initTask); !ok {
				if _, ok := t.(*authTask); !ok {
					return // wait for the SA to come up
				}
			}
		}
		sa.queue = sa.queue[1:]
		sa.start(t)
	}
}

func (sa *ikeSA) start(t task) {
	// The message ID is consumed only once the request exists: a task that
	// cannot be built (its Child SA went away meanwhile) must not leave a
	// gap, which the peer would wait on forever.
	p := &pendingReq{id: sa.nextReqID, task: t}
	if err := sa.buildRequest(p); err != nil {
		t.fail(sa, err)
		return
	}
	sa.nextReqID++
	sa.inflight[p.id] = p
	sa.transmit(p)
}

func (sa *ikeSA) buildRequest(p *pendingReq) error {
	ps, err := p.task.build(sa)
	if err != nil {
		return err
	}
	pkt, err := sa.encode(p.task.exchange(), p.id, false, ps)
	if err != nil {
		return err
	}
	if p.task.exchange() == wire.ExchangeIKESAInit {
		sa.hs.initReq = pkt
	}
	if p.frags, err = sa.fragmentOut(p.task.exchange(), p.id, false, ps, pkt); err != nil {
		return err
	}
	p.packet = pkt
	p.tries = 0
	p.wait, p.maxTries, p.fixedWait = sa.e.cfg.RetransmitTimeout, sa.e.cfg.RetransmitTries, false
	if rp, ok := p.task.(retransmitPolicy); ok {
		var backoff bool
		p.wait, p.maxTries, backoff = rp.retransmits(sa.e)
		p.fixedWait = !backoff
	}
	return nil
}

func (sa *ikeSA) transmit(p *pendingReq) {
	sa.sendPacket(p.packet, p.frags)
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = sa.e.afterFunc(p.wait, func() { sa.retransmit(p) })
}

func (sa *ikeSA) retransmit(p *pendingReq) {
	if sa.state == stateDead || sa.inflight[p.id] != p {
		return
	}
	if p.tries >= p.maxTries {
		sa.e.log.Info("ike peer not responding", "spi", hexSPI(sa.localSPI()), "peer", sa.remote,
			"exchange", p.task.exchange().String(), "msgid", p.id)
		reason := timeoutReason(p)
		if reason == ErrPeerDead {
			sa.e.stats.inc(CounterDPDDead)
		}
		sa.destroy(reason)
		return
	}
	p.tries++
	if !p.fixedWait {
		p.wait = min(time.Duration(float64(p.wait)*sa.e.cfg.RetransmitBackoff), sa.e.cfg.RetransmitMaxTimeout)
	}
	sa.e.stats.inc(CounterRetransmits)
	sa.transmit(p)
}

// handleResponse matches a response to its outstanding request.
func (sa *ikeSA) handleResponse(m *inMessage) {
	e := sa.e
	p := sa.inflight[m.hdr.MessageID]
	if p == nil || p.task.exchange() != m.hdr.Exchange {
		e.stats.inc(CounterDropUnexpected)
		return
	}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	again, err := p.task.process(sa, m)
	if sa.state == stateDead {
		return
	}
	if again && err == nil {
		if p.task.exchange() != wire.ExchangeIKESAInit {
			// Another round of CREATE_CHILD_SA (INVALID_KE_PAYLOAD) is a new
			// exchange with the next message ID; only IKE_SA_INIT repeats ID 0.
			delete(sa.inflight, p.id)
			sa.queueTaskFirst(p.task)
			return
		}
		if err = sa.buildRequest(p); err == nil {
			sa.transmit(p)
			return
		}
	}
	delete(sa.inflight, p.id)
	if err != nil {
		p.task.fail(sa, err)
	}
	if sa.state != stateDead {
		sa.pump()
	}
}

// handleRequest answers a request: from the response cache for a
// duplicate, otherwise through the responder half of its exchange.
func (sa *ikeSA) handleRequest(m *inMessage) {
	e := sa.e
	id := m.hdr.MessageID
	if cached, ok := sa.response(id); ok {
		e.stats.inc(CounterDupRequests)
		sa.sendResponse(id, cached)
		return
	}
	if id < sa.nextPeerID {
		e.stats.inc(CounterDropReplay)
		return
	}
	if id-sa.nextPeerID >= e.cfg.WindowSize {
		e.stats.inc(CounterDropWindow)
		return
	}
	// RFC 7296 §2.23: behind a NAT, follow the peer to the address of its
	// latest authenticated request.
	if sa.udpEncap() && (m.remote != sa.remote || m.local != sa.local) {
		sa.local = m.local
		sa.setRemote(m.remote)
		for _, c := range sa.children {
			c.addressesChanged()
		}
	}
	ps, after := sa.respond(m)
	if sa.state == stateDead {
		return
	}
	pkt, err := sa.encode(m.hdr.Exchange, id, true, ps)
	if err != nil {
		e.log.Warn("ike encode response failed", "spi", hexSPI(sa.localSPI()), "err", err)
		return
	}
	frags, err := sa.fragmentOut(m.hdr.Exchange, id, true, ps, pkt)
	if err != nil {
		e.log.Warn("ike fragment response failed", "spi", hexSPI(sa.localSPI()), "err", err)
	}
	sa.storeResponseFragments(id, frags)
	sa.storeResponse(id, pkt)
	sa.lastReq, sa.lastResp = reqDigest(m.raw), pkt
	sa.sendResponse(id, pkt)
	if after != nil {
		after()
	}
}

// respond dispatches a request to the responder half of its exchange. It
// returns the response payloads and an action to run once it is sent.
func (sa *ikeSA) respond(m *inMessage) ([]wire.Payload, func()) {
	switch m.hdr.Exchange {
	case wire.ExchangeIKEAuth:
		return sa.respondAuth(m)
	case wire.ExchangeCreateChildSA:
		// Nothing is created on an SA on its way out, nor on one whose
		// rekey collision is not yet settled (RFC 7296 §2.25: the peer
		// retries).
		if sa.state != stateEstablished || sa.rekeyOf != nil {
			return []wire.Payload{notify(wire.NotifyTemporaryFailure, nil)}, nil
		}
		return sa.respondCreateChild(m), nil
	case wire.ExchangeInformational:
		return sa.respondInformational(m)
	}
	return []wire.Payload{notify(wire.NotifyInvalidSyntax, nil)}, nil
}

// handlePacket is the entry point of every datagram.
func (e *Engine) handlePacket(p transport.Packet) {
	e.stats.inc(CounterRxMessages)
	if len(p.Data) > e.cfg.MaxMessageSize {
		e.stats.inc(CounterDropOversized)
		return
	}
	hb := wire.HeaderBytes(p.Data)
	if !hb.Valid() || int64(hb.Length()) != int64(len(p.Data)) {
		e.stats.inc(CounterDropTruncated)
		return
	}
	if hb.MajorVersion() != 2 {
		e.stats.inc(CounterDropMalformed)
		return
	}
	response := hb.Flags()&wire.FlagResponse != 0
	if hb.ExchangeType() == wire.ExchangeIKESAInit && !response {
		if hb.ResponderSPI() != 0 || hb.MessageID() != 0 {
			e.stats.inc(CounterDropMalformed)
			return
		}
		e.handleInitRequest(p)
		return
	}
	// The I flag says whether the sender is the original initiator, so which
	// SPI is ours.
	var spi, peerSPI uint64
	if hb.Flags()&wire.FlagInitiator != 0 {
		spi, peerSPI = hb.ResponderSPI(), hb.InitiatorSPI()
	} else {
		spi, peerSPI = hb.InitiatorSPI(), hb.ResponderSPI()
	}
	sa := e.sas[spi]
	if sa == nil || (sa.initiator == (hb.Flags()&wire.FlagInitiator != 0)) {
		if tb := e.tombstones[spi]; tb != nil && !response && tb.req == reqDigest(p.Data) {
			// The peer did not get our answer to its last request (typically
			// its Delete); answer again although the SA is gone.
			e.stats.inc(CounterDupRequests)
			e.send(p.Local, p.Remote, tb.resp)
			return
		}
		e.stats.inc(CounterDropUnknownSPI)
		return
	}
	if sa.remoteSPI() != peerSPI && !(sa.initiator && sa.spir == 0 && hb.ExchangeType() == wire.ExchangeIKESAInit) {
		e.stats.inc(CounterDropUnknownSPI)
		return
	}
	msg, err := wire.Decode(p.Data)
	if err != nil {
		// Unauthenticated garbage: never answered (RFC 7296 §2.21.1).
		e.stats.inc(CounterDropMalformed)
		return
	}
	in := &inMessage{hdr: msg.Header, raw: p.Data, local: p.Local, remote: p.Remote}
	if msg.Header.Exchange == wire.ExchangeIKESAInit {
		in.payloads = msg.Payloads
	} else {
		skIn, err := sa.inCipher()
		if err != nil {
			e.stats.inc(CounterDropUnexpected)
			return
		}
		if len(msg.Payloads) > 0 {
			if f, ok := msg.Payloads[len(msg.Payloads)-1].(*wire.EncryptedFragment); ok {
				sa.handleFragment(in, f)
				return
			}
		}
		ps, _, err := wire.Open(msg, skIn, nil)
		if err != nil {
			var we *wire.Error
			if errors.As(err, &we) && !response {
				// Authenticated but malformed inside: answer with the
				// notify the codec chose (RFC 7296 §2.21.2).
				e.stats.inc(CounterDropMalformed)
				sa.answerError(in, we)
				return
			}
			if errors.As(err, &we) {
				e.stats.inc(CounterDropMalformed)
				return
			}
			e.stats.inc(CounterDropBadICV)
			return
		}
		in.payloads = ps
	}
	sa.lastRx = e.clock.Now()
	if response {
		sa.handleResponse(in)
	} else {
		sa.handleRequest(in)
	}
	sa.releaseCiphers()
}

// answerError answers an authenticated but malformed request with an error
// notify, consuming its message ID like any other request.
func (sa *ikeSA) answerError(in *inMessage, we *wire.Error) {
	id := in.hdr.MessageID
	if _, ok := sa.response(id); ok || id < sa.nextPeerID || id-sa.nextPeerID >= sa.e.cfg.WindowSize {
		return
	}
	pkt, err := sa.encode(in.hdr.Exchange, id, true, []wire.Payload{notify(we.Notify, we.Data)})
	if err != nil {
		return
	}
	sa.storeResponse(id, pkt)
	sa.e.send(in.local, in.remote, pkt)
}
