package wire

import (
	"bytes"
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
	f.Fuzz(func(t *testing.T, first byte, b []byte) {
		ps, err := DecodePayloads(PayloadType(first), b)
		if err != nil {
			if _, _, ok := NotifyFor(err); !ok {
				t.Fatalf("decode error %v carries no notify", err)
			}
			return
		}
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
