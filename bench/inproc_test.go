package bench

import (
	"testing"
	"time"
)

func TestCryptoCeilingAndEnginePath(t *testing.T) {
	rc := RunConfig{Runs: 1, Duration: 20 * time.Millisecond, Sizes: []string{"64", "imix"}}
	rs, err := CryptoCeiling(rc)
	if err != nil {
		t.Fatal(err)
	}
	es, err := EnginePath(rc)
	if err != nil {
		t.Fatal(err)
	}
	rs = append(rs, es...)
	if len(rs) != 8 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if r.PPS.Median <= 0 || r.Gbps.Median <= 0 {
			t.Errorf("%s %s: no throughput: %+v", r.Path, r.Size, r)
		}
	}
	// IMIX carries more bytes per packet than 64 B.
	if rs[2].Gbps.Median <= rs[0].Gbps.Median*2 {
		t.Errorf("imix seal %v Gbit/s not well above 64 B %v", rs[2].Gbps.Median, rs[0].Gbps.Median)
	}
}

func TestBatchSizes(t *testing.T) {
	s, err := batchSizes("imix", 12)
	if err != nil || s[0] != 64 || s[7] != 570 || s[11] != 1500 {
		t.Errorf("imix %v %v", s, err)
	}
	for _, bad := range []string{"10", "9000", "big"} {
		if _, err := batchSizes(bad, 1); err == nil {
			t.Errorf("size %q accepted", bad)
		}
	}
}

func TestEngineNoAllocs(t *testing.T) {
	p, err := NewEnginePair()
	if err != nil {
		t.Fatal(err)
	}
	sizes, _ := batchSizes("imix", 67)
	eb := newEngineBatch(sizes)
	if a := testing.AllocsPerRun(20, func() { eb.reset(); p.WA.ProcessOutbound(eb.pkts) }); a != 0 {
		t.Errorf("%v allocs per batch", a)
	}
}
