package xdp

import (
	"encoding/binary"
	"sync"
	"testing"
)

// TestHandoffRingOrderAndBounds pushes more packets than the ring holds
// from one goroutine while another pops them, and checks that every packet
// arrives once, in order, with its bytes, and that a full ring refuses.
func TestHandoffRingOrderAndBounds(t *testing.T) {
	r := newHandoffRing(5) // rounds up to 8
	if len(r.slots) != 8 {
		t.Fatalf("size %d, want 8", len(r.slots))
	}
	for i := range 8 {
		s := r.reserve()
		if s == nil {
			t.Fatalf("full after %d", i)
		}
		r.commit()
	}
	if r.reserve() != nil {
		t.Fatal("reserve on a full ring succeeded")
	}
	for range 8 {
		r.peek()
		r.release()
	}
	if r.peek() != nil || r.len() != 0 {
		t.Fatal("ring not empty")
	}

	const total = 100000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; {
			s := r.reserve()
			if s == nil {
				continue
			}
			binary.BigEndian.PutUint32(s.buf[:], uint32(i))
			s.n = 4 + i%7
			r.commit()
			i++
		}
	}()
	for want := 0; want < total; {
		s := r.peek()
		if s == nil {
			continue
		}
		if got := binary.BigEndian.Uint32(s.buf[:]); got != uint32(want) || s.n != 4+want%7 {
			t.Fatalf("popped %d (n %d), want %d", got, s.n, want)
		}
		r.release()
		want++
	}
	wg.Wait()
}

func TestHandoffRingNoAllocs(t *testing.T) {
	r := newHandoffRing(64)
	if n := testing.AllocsPerRun(1000, func() {
		s := r.reserve()
		s.n = 1
		r.commit()
		r.peek()
		r.release()
	}); n != 0 {
		t.Fatalf("%v allocations per push and pop", n)
	}
}
