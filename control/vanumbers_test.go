package control

import (
	"math/rand/v2"
	"testing"
)

// TestVANumbersLowestFree checks alloc against the obvious definition
// (the lowest number not in use) over random allocations and frees.
func TestVANumbersLowestFree(t *testing.T) {
	v := newVANumbers()
	model := map[int]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		if r.IntN(3) == 0 && len(model) > 0 {
			n := 1 + r.IntN(len(model)+5)
			v.free(n)
			delete(model, n)
			continue
		}
		want := 1
		for model[want] {
			want++
		}
		if got := v.alloc(); got != want {
			t.Fatalf("step %d: alloc = %d, want the lowest free %d", i, got, want)
		}
		model[want] = true
	}
	if len(v.inUse) != len(model) {
		t.Fatalf("%d numbers in use, want %d", len(v.inUse), len(model))
	}
}

// TestVANumbersConstantTime allocates numbers 1..n in order: each alloc
// must start where the last one ended, not rescan from 1.
func TestVANumbersConstantTime(t *testing.T) {
	v := newVANumbers()
	for want := 1; want <= 1000; want++ {
		if got := v.alloc(); got != want {
			t.Fatalf("alloc = %d, want %d", got, want)
		}
		if v.low != want+1 {
			t.Fatalf("after alloc %d the scan starts at %d, want %d", want, v.low, want+1)
		}
	}
	v.free(500)
	v.free(7)
	if got := v.alloc(); got != 7 {
		t.Fatalf("alloc after freeing 7 and 500 = %d, want 7", got)
	}
	if got := v.alloc(); got != 500 {
		t.Fatalf("second alloc = %d, want 500", got)
	}
	if got := v.alloc(); got != 1001 {
		t.Fatalf("third alloc = %d, want 1001", got)
	}
}
