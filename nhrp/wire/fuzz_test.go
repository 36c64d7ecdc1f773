package wire

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that Decode never panics, that whatever it accepts
// encodes back to the same bytes, and that Encode's output decodes.
func FuzzDecode(f *testing.F) {
	for _, b := range goldenAll {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Half of the inputs get a correct checksum so the fuzzer reaches
		// past it.
		if len(b) >= HeaderLen && len(b)%2 == 0 {
			if h := Header(b); h.Valid() {
				h.UpdateChecksum()
			}
		}
		p, err := Decode(b)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			return
		}
		out, err := p.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded packet: %v", err)
		}
		want := b[:Header(b).PktSz()]
		if !bytes.Equal(out, want) {
			t.Fatalf("round trip differs\n got %x\nwant %x", out, want)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
