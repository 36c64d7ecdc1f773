package ike

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// fuzzSA builds an established responder SA with fixed keys and one Child
// SA, as if IKE_AUTH had just completed.
func fuzzSA(t testing.TB, e *Engine, prof *Profile) *ikeSA {
	sa := e.newIKESA(false, netip.AddrPortFrom(addrB, 500), netip.AddrPortFrom(addrA, 500))
	sa.spii = 0x0102030405060708
	spir, err := e.newSPI()
	if err != nil {
		t.Fatal(err)
	}
	sa.spir = spir
	sa.hs.ni, sa.hs.nr = bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	if err := sa.setProposal(propGCM); err != nil {
		t.Fatal(err)
	}
	keys, err := suite.DeriveIKEKeys(propGCM, sa.hs.ni, sa.hs.nr, bytes.Repeat([]byte{3}, 32), sa.spii, sa.spir)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.installKeys(keys); err != nil {
		t.Fatal(err)
	}
	sa.profile, sa.remoteID, sa.localID = prof, idSpokeA, idHubB
	sa.state = stateEstablished
	sa.nextPeerID = 2
	e.sas[spir] = sa
	in, err := e.newChildSPI()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.makeChild(childParams{cfg: prof.Child, prop: espGCM, inSPI: in, outSPI: 0x11223344,
		ni: sa.hs.ni, nr: sa.hs.nr, localTS: prof.Child.LocalTS, remoteTS: prof.Child.RemoteTS}); err != nil {
		t.Fatal(err)
	}
	return sa
}

func chain(t testing.TB, exch byte, ps ...wire.Payload) []byte {
	b, err := wire.AppendPayloadChain([]byte{exch, byte(ps[0].Type())}, ps)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzResponderRequest hands arbitrary authenticated payload chains to the
// responder half of CREATE_CHILD_SA, INFORMATIONAL and IKE_AUTH on an
// established SA: decoding is the codec's job, what is fuzzed here is the
// engine's use of whatever decodes (proposals, selectors, notifies, deletes,
// rekeys). It must not panic, and must answer every request.
//
// Input: byte 0 selects the exchange, byte 1 is the first payload type, the
// rest is the payload chain.
func FuzzResponderRequest(f *testing.F) {
	child := reverse(defaultChild())
	spi := binary.BigEndian.AppendUint32(nil, 0xabcdef01)
	kex, err := suite.NewKeyExchange(wire.DHECP256, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	{
		f.Add(chain(f, 1, wireSA(wire.ProtocolIKE, binary.BigEndian.AppendUint64(nil, 99), []suite.Proposal{propGCM}, true),
			&wire.Nonce{Data: bytes.Repeat([]byte{9}, 32)}, &wire.KE{Group: wire.DHECP256, Data: kex.Public()}))
	}
	f.Add(chain(f, 1, append([]wire.Payload{wireSA(wire.ProtocolESP, spi, []suite.Proposal{espGCM}, true),
		&wire.Nonce{Data: bytes.Repeat([]byte{9}, 32)}}, tsToWire(false, defaultChild().LocalTS), tsToWire(true, defaultChild().RemoteTS))...))
	f.Add(chain(f, 1, &wire.Notify{Protocol: wire.ProtocolESP, SPI: binary.BigEndian.AppendUint32(nil, 0x11223344), NotifyType: wire.NotifyRekeySA},
		wireSA(wire.ProtocolESP, spi, []suite.Proposal{espGCM}, true), &wire.Nonce{Data: bytes.Repeat([]byte{9}, 32)},
		tsToWire(false, defaultChild().LocalTS), tsToWire(true, defaultChild().RemoteTS)))
	f.Add(chain(f, 2, wire.DeleteChild(wire.ProtocolESP, 0x11223344, 7)))
	f.Add(chain(f, 2, wire.DeleteIKE()))
	f.Add([]byte{2, 0})
	f.Add(chain(f, 3, &wire.ID{IDType: wire.IDFQDN, Data: []byte("spoke-a.test")}, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: make([]byte, 32)}))

	ct := newCapture()
	prof := &Profile{Name: "hub", LocalID: idHubB, LocalPSK: testPSK, RemotePSK: testPSK, Child: child, IKEProposals: []suite.Proposal{propGCM}}
	pol := &testPolicy{props: []suite.Proposal{propGCM, propCBC}, remoteID: idSpokeA, profile: prof}
	e, err := New(Config{Transport: ct, Policy: pol, RetransmitTimeout: time.Hour, HalfOpenTimeout: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go func() { _ = e.Run(ctx) }()
	exchanges := []wire.ExchangeType{wire.ExchangeCreateChildSA, wire.ExchangeCreateChildSA, wire.ExchangeInformational, wire.ExchangeIKEAuth}

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		exch := exchanges[int(b[0])%len(exchanges)]
		ps, err := wire.DecodePayloads(wire.PayloadType(b[1]), b[2:])
		if err != nil {
			return
		}
		before := ct.count()
		err = e.call(ctx, func() {
			sa := fuzzSA(t, e, prof)
			if exch == wire.ExchangeIKEAuth {
				sa.state, sa.nextPeerID = stateConnecting, 1
				sa.hs.initReq, sa.hs.initResp = []byte("init request"), []byte("init response")
			}
			m := &inMessage{
				hdr:      wire.Header{SPIi: sa.spii, SPIr: sa.spir, Exchange: exch, Flags: wire.FlagInitiator, MessageID: sa.nextPeerID},
				payloads: ps, local: sa.local, remote: sa.remote,
			}
			sa.handleRequest(m)
			for _, s := range e.sas {
				s.destroy(nil)
			}
			clear(e.tombstones)
		})
		if err != nil {
			t.Fatal(err)
		}
		if ct.count() != before+1 {
			t.Fatalf("responder sent %d messages for one request", ct.count()-before)
		}
		ct.mu.Lock()
		last := ct.sent[len(ct.sent)-1]
		ct.mu.Unlock()
		h, err := wire.DecodeHeader(last.Data)
		if err != nil || !h.IsResponse() || h.Exchange != exch {
			t.Fatalf("bad response header %+v: %v", h, err)
		}
		if _, err := wire.Decode(last.Data); err != nil {
			t.Fatalf("undecodable response: %v", err)
		}
	})
}
