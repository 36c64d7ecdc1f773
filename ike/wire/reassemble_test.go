package wire

import (
	"errors"
	"reflect"
	"testing"
)

func openFragments(t *testing.T, frags [][]byte, c testCipher) []*EncryptedFragment {
	t.Helper()
	var out []*EncryptedFragment
	for i, b := range frags {
		m, err := Decode(b)
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if err := Validate(m); err != nil {
			t.Fatalf("fragment %d: validate: %v", i, err)
		}
		out = append(out, m.Payloads[len(m.Payloads)-1].(*EncryptedFragment))
	}
	return out
}

func TestFragmentReassembly(t *testing.T) {
	c := testCipher{0x77}
	h := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	for _, maxLen := range []int{60, 67, 120, 257, 1280} {
		frags, err := AppendFragments(h, authInner(), c, nil, maxLen)
		if err != nil {
			t.Fatalf("maxLen %d: %v", maxLen, err)
		}
		for i, f := range frags {
			if len(f) > maxLen {
				t.Fatalf("maxLen %d: fragment %d has %d bytes", maxLen, i, len(f))
			}
		}
		sk := openFragments(t, frags, c)
		// Deliver in reverse with a duplicate, as a reordering network would.
		var r Reassembler
		for i := len(sk) - 1; i >= 0; i-- {
			pt, err := c.Open(nil, sk[i].AAD, sk[i].Body)
			if err != nil {
				t.Fatal(err)
			}
			done, err := r.Add(sk[i], pt)
			if err != nil {
				t.Fatal(err)
			}
			if done != (i == 0) {
				t.Fatalf("maxLen %d: done=%v after fragment %d of %d", maxLen, done, i+1, len(sk))
			}
			if i == len(sk)-1 && len(sk) > 1 {
				if done, _ := r.Add(sk[i], pt); done {
					t.Fatal("duplicate completed the message")
				}
			}
		}
		ps, err := r.Payloads()
		if err != nil {
			t.Fatalf("maxLen %d: %v", maxLen, err)
		}
		if !reflect.DeepEqual(ps, authInner()) {
			t.Fatalf("maxLen %d: reassembled payloads differ", maxLen)
		}
	}
}

func TestFragmentRestartAndLimits(t *testing.T) {
	c := testCipher{1}
	h := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, MessageID: 1}
	big, _ := AppendFragments(h, authInner(), c, nil, 200)
	small, _ := AppendFragments(h, authInner(), c, nil, 100)
	bs, ss := openFragments(t, big, c), openFragments(t, small, c)
	var r Reassembler
	add := func(f *EncryptedFragment) (bool, error) {
		pt, _ := c.Open(nil, f.AAD, f.Body)
		return r.Add(f, pt)
	}
	if _, err := add(bs[0]); err != nil {
		t.Fatal(err)
	}
	// The sender re-fragments smaller: the larger total restarts reassembly.
	for i, f := range ss {
		done, err := add(f)
		if err != nil || done != (i == len(ss)-1) {
			t.Fatalf("small fragment %d: %v %v", i, done, err)
		}
	}
	if _, err := add(bs[1]); !errors.Is(err, ErrFragmentStale) {
		t.Fatalf("stale fragment: %v", err)
	}
	r = Reassembler{MaxFragments: 2}
	if _, err := add(ss[0]); !errors.Is(err, ErrFragmentLimit) {
		t.Fatalf("too many fragments: %v", err)
	}
	r = Reassembler{MaxBytes: 10}
	if _, err := add(ss[0]); !errors.Is(err, ErrFragmentLimit) {
		t.Fatalf("too many bytes: %v", err)
	}
}
