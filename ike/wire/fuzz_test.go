package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// checkCanonical asserts the round-trip contract for a decoded message: it
// re-encodes, the encoding has the same length as the input (decoding only
// normalises reserved bits, never lengths), decodes again, and is a fixed
// point. For inputs whose reserved fields are zero, Encode(Decode(b)) == b;
// the golden tests check that exactly.
func checkCanonical(t *testing.T, in []byte, m *Message) {
	t.Helper()
	e, err := m.Encode()
	if err != nil {
		t.Fatalf("decoded message does not encode: %v", err)
	}
	if len(e) != len(in) {
		t.Fatalf("re-encoding has %d bytes, input %d", len(e), len(in))
	}
	m2, err := Decode(e)
	if err != nil {
		t.Fatalf("re-encoding does not decode: %v", err)
	}
	e2, err := m2.Encode()
	if err != nil || !bytes.Equal(e, e2) {
		t.Fatalf("encoding is not a fixed point: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range goldenMessages(f) {
		f.Add(s)
	}
	for _, s := range captureSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if _, _, ok := NotifyFor(err); !ok {
				t.Fatalf("decode error %v carries no notify", err)
			}
			return
		}
		checkCanonical(t, b, m)
		if err := Validate(m); err != nil {
			if _, _, ok := NotifyFor(err); !ok {
				t.Fatalf("validate error %v carries no notify", err)
			}
		}
	})
}

func FuzzDecodePayloads(f *testing.F) {
	pt, err := AppendPayloadChain(nil, authInner())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(byte(PayloadIDi), pt)
	for _, s := range goldenMessages(f) {
		f.Add(s[16], s[HeaderLen:])
	}
	// The decrypted inner payloads of real strongSwan messages.
	for _, scen := range captureScenarios {
		dc := decodeCapture(f, captureDir, scen)
		for i, pt := range dc.plain {
			if pt != nil && len(dc.inner[i]) > 0 {
				f.Add(byte(dc.inner[i][0].Type()), pt)
			}
		}
	}
	f.Fuzz(func(t *testing.T, first byte, b []byte) {
		ps, err := DecodePayloads(PayloadType(first), b)
		if err != nil {
			if _, _, ok := NotifyFor(err); !ok {
				t.Fatalf("decode error %v carries no notify", err)
			}
			return
		}
		for _, ex := range []ExchangeType{ExchangeIKEAuth, ExchangeCreateChildSA, ExchangeInformational} {
			for _, resp := range []bool{false, true} {
				if err := ValidateInner(ex, resp, ps); err != nil {
					if _, _, ok := NotifyFor(err); !ok {
						t.Fatalf("ValidateInner error %v carries no notify", err)
					}
				}
			}
		}
		_ = AppendSummary(nil, ps)
		_ = AppendDebug(nil, &Message{Payloads: ps})
		e, err := AppendPayloadChain(nil, ps)
		if err != nil {
			t.Fatalf("decoded payloads do not encode: %v", err)
		}
		if len(e) != len(b) {
			t.Fatalf("re-encoding has %d bytes, input %d", len(e), len(b))
		}
		ps2, err := DecodePayloads(PayloadType(first), e)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		e2, _ := AppendPayloadChain(nil, ps2)
		if !bytes.Equal(e, e2) {
			t.Fatal("encoding is not a fixed point")
		}
	})
}

// FuzzNotifyData runs every notify data parser on arbitrary data; a parse
// that succeeds must rebuild the same data through the matching builder.
func FuzzNotifyData(f *testing.F) {
	r, _ := NewRedirect(Gateway{FQDN: "hub2.example"}, seq(16, 0))
	r6, _ := NewRedirect(Gateway{Addr: mustAddr("2001:db8::1")}, nil)
	for _, n := range []*Notify{r, r6, NewCookie(seq(8, 1)), NewInvalidKE(DHECP256), NewSetWindowSize(4),
		NewNATDetection(true, seq(20, 0)), NewSignatureHashAlgorithms(2, 3, 4)} {
		f.Add(uint16(n.NotifyType), n.Data)
	}
	f.Fuzz(func(t *testing.T, typ uint16, data []byte) {
		n := &Notify{NotifyType: NotifyType(typ), Data: data}
		if gw, nonce, err := n.Redirect(); err == nil {
			var b *Notify
			if n.NotifyType == NotifyRedirect {
				b, err = NewRedirect(gw, nonce)
			} else {
				b, err = NewRedirectedFrom(gw)
			}
			if err != nil || !bytes.Equal(b.Data, data) {
				t.Fatalf("redirect %v %x does not rebuild %x (%v)", gw, nonce, data, err)
			}
		}
		if c, err := n.Cookie(); err == nil && !bytes.Equal(NewCookie(c).Data, data) {
			t.Fatal("cookie does not rebuild")
		}
		if g, err := n.InvalidKEGroup(); err == nil && !bytes.Equal(NewInvalidKE(g).Data, data) {
			t.Fatal("INVALID_KE does not rebuild")
		}
		if w, err := n.WindowSize(); err == nil && !bytes.Equal(NewSetWindowSize(w).Data, data) {
			t.Fatal("window size does not rebuild")
		}
		if ids, err := n.SignatureHashAlgorithms(nil); err == nil && !bytes.Equal(NewSignatureHashAlgorithms(ids...).Data, data) {
			t.Fatal("hash algorithms do not rebuild")
		}
		_, _ = n.NATDetectionHash()
		_, _, _ = n.RekeySA()
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// FuzzTrafficSelectors decodes two TS payloads and checks the selector
// arithmetic on what they hold: intersections are subsets of both sides and
// Narrow only returns such intersections; prefixes re-cover the range.
func FuzzTrafficSelectors(f *testing.F) {
	enc := func(ts ...TrafficSelector) []byte {
		b, err := (&TrafficSelectors{Selectors: ts}).appendBody(nil)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(enc(TSAny(false), TSAny(true)), enc(TSFromPrefix(netip.MustParsePrefix("198.18.0.0/24"))))
	f.Add(enc(TSFromRange(mustAddr("198.18.0.3"), mustAddr("198.18.1.9"), 6, 10, 400)),
		enc(TSFromRange(mustAddr("198.18.0.0"), mustAddr("198.18.0.200"), 0, OpaquePorts, 0)))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		pa, err := decodeTS(PayloadTSi, a, 0)
		if err != nil {
			return
		}
		pb, err := decodeTS(PayloadTSr, b, 0)
		if err != nil {
			return
		}
		for _, x := range pa.Selectors {
			for _, y := range pb.Selectors {
				if in, ok := x.Intersect(y); ok && (!in.IsSubsetOf(x) || !in.IsSubsetOf(y)) {
					t.Fatalf("%v ∩ %v = %v is not a subset", x, y, in)
				}
			}
			if x.IsAddrRange() {
				ps := x.AppendPrefixes(nil)
				if len(ps) == 0 || ps[0].Addr() != x.Start || lastAddr(ps[len(ps)-1]) != x.End {
					t.Fatalf("%v: prefixes %v do not span the range", x, ps)
				}
			}
			_ = x.String()
		}
		for _, n := range Narrow(nil, pa.Selectors, pb.Selectors) {
			found := false
			for _, x := range pa.Selectors {
				if n.IsSubsetOf(x) {
					found = true
				}
			}
			if !found {
				t.Fatalf("narrowed %v is not inside any proposed selector", n)
			}
		}
	})
}

// FuzzReassembler feeds arbitrary fragment sequences (4-byte records:
// number, total, next payload, data length) to a Reassembler with small
// limits; it must never panic and, when complete, hold exactly the data of
// fragments 1..total of the last restart.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{1, 2, 35, 3, 2, 2, 0, 1})
	f.Add([]byte{2, 3, 0, 0, 1, 2, 33, 4, 1, 3, 33, 4, 3, 3, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Reassembler{MaxFragments: 8, MaxBytes: 64}
		for i := 0; i+4 <= len(b); i += 4 {
			fr := &EncryptedFragment{Number: uint16(b[i]), Total: uint16(b[i+1]), NextPayload: PayloadType(b[i+2])}
			data := bytes.Repeat([]byte{b[i]}, int(b[i+3]%32))
			done, err := r.Add(fr, data)
			if err == nil && done != r.Complete() {
				t.Fatal("Add's done disagrees with Complete")
			}
		}
		if r.Complete() {
			_, _ = r.Payloads()
			if len(r.buf) != r.size {
				t.Fatalf("reassembled %d bytes, recorded %d", len(r.buf), r.size)
			}
		}
	})
}
