package cow

import (
	"math/rand/v2"
	"testing"
)

// TestMapModel applies random sets and deletes to a Map and a plain map
// and checks they agree, that every earlier version is unchanged, and that
// batch changes (one owner) give the same result as single ones.
func TestMapModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type version struct {
		m    Map[uint32, int]
		want map[uint32]int
	}
	var m Map[uint32, int]
	want := map[uint32]int{}
	var versions []version
	var batch Map[uint32, int]
	var o Owner
	for step := 0; step < 20000; step++ {
		// Small key space so that leaves collide, deletes hit and the
		// top bits are exercised; plus occasional wide keys.
		k := uint32(r.IntN(3000))
		if r.IntN(8) == 0 {
			k = r.Uint32()
		}
		h := Hash64(uint64(k))
		if r.IntN(3) == 0 {
			_, had := want[k]
			var gotHad bool
			m, gotHad = m.With(h, k, 0, true, nil)
			if gotHad != had {
				t.Fatalf("step %d: delete %d reported %v, want %v", step, k, gotHad, had)
			}
			batch, _ = batch.With(h, k, 0, true, &o)
			delete(want, k)
		} else {
			m = m.Set(h, k, step)
			batch, _ = batch.With(h, k, step, false, &o)
			want[k] = step
		}
		if step%1000 == 0 {
			snap := map[uint32]int{}
			for k, v := range want {
				snap[k] = v
			}
			versions = append(versions, version{m, snap})
		}
	}
	versions = append(versions, version{m, want}, version{batch, want})
	for i, v := range versions {
		if v.m.Len() != len(v.want) {
			t.Fatalf("version %d: len %d, want %d", i, v.m.Len(), len(v.want))
		}
		n := 0
		for k, val := range v.m.All() {
			n++
			if w, ok := v.want[k]; !ok || w != val {
				t.Fatalf("version %d: iterated %d=%d, want %d (present %v)", i, k, val, w, ok)
			}
		}
		if n != len(v.want) {
			t.Fatalf("version %d: iterated %d entries, want %d", i, n, len(v.want))
		}
		for k, w := range v.want {
			if got, ok := v.m.Get(Hash64(uint64(k)), k); !ok || got != w {
				t.Fatalf("version %d: get %d = %d %v, want %d", i, k, got, ok, w)
			}
		}
		if _, ok := v.m.Get(Hash64(1<<40), 1<<31|12345); ok && v.want[1<<31|12345] == 0 {
			t.Fatalf("version %d: absent key found", i)
		}
	}
	var empty Map[uint32, int]
	if _, ok := empty.Get(Hash64(7), 7); ok || empty.Len() != 0 {
		t.Fatal("zero Map not empty")
	}
	if e2 := empty.Del(Hash64(7), 7); e2.t != nil {
		t.Fatal("deleting from an empty Map allocated")
	}
}

func TestMapLookupNoAllocs(t *testing.T) {
	var m Map[[2]uint64, uint16]
	for i := uint64(0); i < 5000; i++ {
		k := [2]uint64{i << 20, i}
		m = m.Set(Hash128(k), k, uint16(i))
	}
	k := [2]uint64{77 << 20, 77}
	if a := testing.AllocsPerRun(1000, func() {
		if v, ok := m.Get(Hash128(k), k); !ok || v != 77 {
			t.Fatal("lookup failed")
		}
	}); a != 0 {
		t.Fatalf("%v allocs per lookup", a)
	}
}
