package ike

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// FuzzFragmentedRequest seals arbitrary payload chains as SKF fragments of
// a request on an established SA (with fragmentation negotiated) and
// delivers them through handlePacket in an order, with duplicates and
// losses, that the input chooses. Reassembly must never panic, a message
// must be answered at most once per delivery of its first fragment, and
// an answer only once every fragment arrived.
//
// Input: byte 0 exchange, byte 1 first payload type, byte 2 fragment size,
// byte 3 delivery pattern, the rest the payload chain.
func FuzzFragmentedRequest(f *testing.F) {
	spi := binary.BigEndian.AppendUint32(nil, 0xabcdef01)
	big := append([]wire.Payload{wireSA(wire.ProtocolESP, spi, []suite.Proposal{espGCM, espCBC}, true),
		&wire.Nonce{Data: bytes.Repeat([]byte{9}, 32)}}, tsToWire(false, bigChild().LocalTS), tsToWire(true, defaultChild().RemoteTS))
	for _, pat := range []byte{0, 1, 2, 3, 4, 5} {
		f.Add(append([]byte{0, byte(big[0].Type()), 40, pat}, chain(f, 0, big...)[2:]...))
	}
	f.Add(append([]byte{1, byte(wire.PayloadDelete), 0, 0}, chain(f, 0, wire.DeleteChild(wire.ProtocolESP, 0x11223344))[2:]...))

	ct := newCapture()
	prof := &Profile{Name: "hub", LocalID: idHubB, LocalPSK: testPSK, RemotePSK: testPSK, Child: reverse(defaultChild()),
		IKEProposals: []suite.Proposal{propGCM}}
	pol := &testPolicy{props: []suite.Proposal{propGCM}, remoteID: idSpokeA, profile: prof}
	e, err := New(Config{Transport: ct, Policy: pol, RetransmitTimeout: time.Hour, HalfOpenTimeout: time.Hour,
		Fragmentation: true, MaxFragments: 16})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go func() { _ = e.Run(ctx) }()
	exchanges := []wire.ExchangeType{wire.ExchangeCreateChildSA, wire.ExchangeInformational}

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		exch := exchanges[int(b[0])%len(exchanges)]
		ps, err := wire.DecodePayloads(wire.PayloadType(b[1]), b[4:])
		if err != nil || len(ps) == 0 {
			return
		}
		maxLen := 80 + int(b[2])
		pattern := b[3]
		before := ct.count()
		var firsts, total int
		complete := true
		err = e.call(ctx, func() {
			sa := fuzzSA(t, e, prof)
			sa.frag.enabled = true
			h := wire.Header{SPIi: sa.spii, SPIr: sa.spir, Exchange: exch, Flags: wire.FlagInitiator, MessageID: sa.nextPeerID}
			peerOut, err := sa.inCipher() // the peer seals with what we open
			if err != nil {
				t.Errorf("fuzz sa cipher: %v", err)
				return
			}
			frags, err := wire.AppendFragments(h, ps, peerOut, rand.Reader, maxLen)
			if err != nil {
				return
			}
			total = len(frags)
			order := make([]int, 0, 2*len(frags))
			switch pattern % 6 {
			case 0: // in order
				for i := range frags {
					order = append(order, i)
				}
			case 1: // reversed
				for i := len(frags) - 1; i >= 0; i-- {
					order = append(order, i)
				}
			case 2: // every fragment twice
				for i := range frags {
					order = append(order, i, i)
				}
			case 3: // the last one lost
				for i := range len(frags) - 1 {
					order = append(order, i)
				}
				complete = len(frags) == 0
			case 4: // all, then all again (a retransmitted request)
				for r := 0; r < 2; r++ {
					for i := range frags {
						order = append(order, i)
					}
				}
			case 5: // interleaved odd/even
				for i := 1; i < len(frags); i += 2 {
					order = append(order, i)
				}
				for i := 0; i < len(frags); i += 2 {
					order = append(order, i)
				}
			}
			for _, i := range order {
				if i == 0 {
					firsts++
				}
				e.handlePacket(transport.Packet{Local: sa.local, Remote: sa.remote, Data: frags[i]})
			}
			for _, s := range e.sas {
				s.destroy(nil)
			}
			clear(e.tombstones)
		})
		if err != nil {
			t.Fatal(err)
		}
		sent := ct.count() - before
		if total == 0 {
			return
		}
		if !complete && sent != 0 {
			t.Fatalf("answered an incomplete message (%d sends)", sent)
		}
		if complete && (sent == 0 || sent > firsts*max(1, total)) {
			t.Fatalf("%d sends for %d fragments, first fragment delivered %d times", sent, total, firsts)
		}
	})
}
