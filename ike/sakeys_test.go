package ike

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/esphub/esphub/ike/suite"
)

// TestSAKeys: the compact key store gives back each key of the
// derivation, and wipes the derivation's copies.
func TestSAKeys(t *testing.T) {
	for _, p := range []suite.Proposal{propGCM, propCBC} {
		keys, err := suite.DeriveIKEKeys(p, bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32), 7, 9)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]byte{}
		for name, b := range map[string][]byte{"d": keys.SKd, "ai": keys.SKai, "ar": keys.SKar, "ei": keys.SKei, "er": keys.SKer} {
			want[name] = bytes.Clone(b)
		}
		k := newSAKeys(keys)
		got := map[string][]byte{"d": k.skd(), "ai": k.ska(true), "ar": k.ska(false), "ei": k.ske(true), "er": k.ske(false)}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("%v: SK_%s = %x, want %x", p, name, got[name], w)
			}
			if cap(got[name]) != len(w) {
				t.Errorf("%v: SK_%s has spare capacity", p, name)
			}
		}
		if !bytes.Equal(keys.SKei, make([]byte, len(keys.SKei))) || !bytes.Equal(keys.SKd, make([]byte, len(keys.SKd))) {
			t.Errorf("%v: derived keys not wiped", p)
		}
	}
}

// TestIKESASize: an IKE SA fits the 1 KiB allocation size class; a hub
// holds one per session (issue 9), and the next class is 1,152 bytes.
func TestIKESASize(t *testing.T) {
	if n := unsafe.Sizeof(ikeSA{}); n > 1024 {
		t.Errorf("ikeSA is %d bytes: move state that only some SAs need behind a pointer", n)
	}
}
