package bench

import (
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane/esp"
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
	impls := 1
	if esp.GCMImplementation() != esp.ImplStdlib {
		impls = 2 // the dataplane's GCM and crypto/cipher as the reference
	}
	if len(rs) != 2*2*impls || len(es) != 4 {
		t.Fatalf("%d crypto results, %d engine results", len(rs), len(es))
	}
	seal := map[string]Result{}
	for _, r := range append(rs, es...) {
		if r.PPS.Median <= 0 || r.Gbps.Median <= 0 {
			t.Errorf("%s %s: no throughput: %+v", r.Path, r.Size, r)
		}
		if r.Path == PathGCMSeal {
			seal[r.Size] = r
		}
		if r.Path == PathGCMSealStdlib && impls == 1 {
			t.Errorf("stdlib reference row measured although the dataplane uses the stdlib")
		}
	}
	// IMIX carries more bytes per packet than 64 B.
	if seal["imix"].Gbps.Median <= seal["64"].Gbps.Median*2 {
		t.Errorf("imix seal %v Gbit/s not well above 64 B %v", seal["imix"].Gbps.Median, seal["64"].Gbps.Median)
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
