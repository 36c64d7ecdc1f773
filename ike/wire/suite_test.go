package wire_test

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"reflect"
	"testing"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// The codec's sealing plumbing (AppendProtected, AppendFragments, Open)
// against the real SK ciphers of ike/suite, so that the Sealer/Opener
// contract and the AAD (IKE header through the SK/SKF header) agree.

func suiteCiphers(t *testing.T) map[string]suite.SKCipher {
	t.Helper()
	key := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	gcm, err := suite.NewSKCipher(suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256}, key(36), nil)
	if err != nil {
		t.Fatal(err)
	}
	cbc, err := suite.NewSKCipher(suite.Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128, PRF: wire.PRFHMACSHA2256}, key(16), key(32))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]suite.SKCipher{"aes256gcm16": gcm, "aes128-sha256": cbc}
}

func inner() []wire.Payload {
	return []wire.Payload{
		&wire.ID{IDType: wire.IDFQDN, Data: []byte("spoke1.example")},
		&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: bytes.Repeat([]byte{7}, 32)},
		&wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 4},
			Transforms: []wire.Transform{wire.EncrTransform(wire.EncrAESGCM16, 256), wire.ESNTransform(wire.ESNNo)}}}},
		&wire.TrafficSelectors{Selectors: []wire.TrafficSelector{wire.TSAny(false)}},
		&wire.TrafficSelectors{Responder: true, Selectors: []wire.TrafficSelector{wire.TSFromPrefix(netip.MustParsePrefix("198.18.0.0/15"))}},
		wire.NewVendorID(wire.VendorFlexVPNSupported),
	}
}

func TestSuiteProtectedRoundTrip(t *testing.T) {
	h := wire.Header{SPIi: 1, SPIr: 2, Exchange: wire.ExchangeIKEAuth, Flags: wire.FlagInitiator, MessageID: 1}
	for name, c := range suiteCiphers(t) {
		t.Run(name, func(t *testing.T) {
			for _, ps := range [][]wire.Payload{inner(), nil} {
				h := h
				if ps == nil {
					// An empty SK payload: a liveness check.
					h.Exchange = wire.ExchangeInformational
				}
				b, err := wire.AppendProtected(nil, h, nil, ps, c, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				m, err := wire.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				got, _, err := wire.Open(m, c, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(ps) == 0 && len(got) == 0 {
					continue
				}
				if !reflect.DeepEqual(got, ps) {
					t.Fatalf("opened payloads differ")
				}
				b[len(b)-1] ^= 1
				m, _ = wire.Decode(b)
				if _, _, err := wire.Open(m, c, nil); err == nil {
					t.Fatal("tampered ICV opened")
				}
			}
		})
	}
}

func TestSuiteFragments(t *testing.T) {
	h := wire.Header{SPIi: 1, SPIr: 2, Exchange: wire.ExchangeIKEAuth, Flags: wire.FlagInitiator, MessageID: 1}
	for name, c := range suiteCiphers(t) {
		for _, maxLen := range []int{100, 101, 117, 257, 576} {
			frags, err := wire.AppendFragments(h, inner(), c, rand.Reader, maxLen)
			if err != nil {
				t.Fatalf("%s/%d: %v", name, maxLen, err)
			}
			var r wire.Reassembler
			for i, f := range frags {
				if len(f) > maxLen {
					t.Fatalf("%s/%d: fragment %d is %d bytes", name, maxLen, i, len(f))
				}
				m, err := wire.Decode(f)
				if err != nil {
					t.Fatal(err)
				}
				skf := m.Payloads[0].(*wire.EncryptedFragment)
				pt, err := c.Open(nil, skf.AAD, skf.Body)
				if err != nil {
					t.Fatalf("%s/%d: fragment %d: %v", name, maxLen, i, err)
				}
				if _, err := r.Add(skf, pt); err != nil {
					t.Fatal(err)
				}
			}
			ps, err := r.Payloads()
			if err != nil || !reflect.DeepEqual(ps, inner()) {
				t.Fatalf("%s/%d: reassembled %v", name, maxLen, err)
			}
		}
	}
}
