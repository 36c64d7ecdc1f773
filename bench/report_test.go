package bench

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want Stat
	}{
		{"empty", nil, Stat{}},
		{"one", []float64{3}, Stat{3, 3, 3, 1}},
		{"odd", []float64{5, 1, 3}, Stat{3, 1, 5, 3}},
		{"even", []float64{4, 1, 3, 10}, Stat{3.5, 1, 10, 4}},
		{"nan ignored", []float64{math.NaN(), 2, math.Inf(1)}, Stat{2, 2, 2, 1}},
	} {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("%s: Summarize(%v) = %+v, want %+v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestPacketResult(t *testing.T) {
	s := []Sample{
		{Packets: 1000, Bytes: 64000, Offered: 1000, Elapsed: time.Millisecond, CPU: 500 * time.Microsecond, GenCPU: 900 * time.Microsecond, SinkCPU: 200 * time.Microsecond},
		{Packets: 2000, Bytes: 128000, Offered: 2500, Elapsed: time.Millisecond},
		{Packets: 3000, Bytes: 192000, Offered: 3000, Elapsed: time.Millisecond, CPU: time.Millisecond},
	}
	r := PacketResult(ScenarioIO, PathXDPForward, "64", s)
	if r.PPS != (Stat{2e6, 1e6, 3e6, 3}) {
		t.Errorf("pps %+v", r.PPS)
	}
	if math.Abs(r.Gbps.Median-1.024) > 1e-9 {
		t.Errorf("gbps %+v", r.Gbps)
	}
	// CPU measured on two runs only: 500 ns and 333 ns per packet.
	if r.CPUNsPerPkt.N != 2 || math.Abs(r.CPUNsPerPkt.Max-500) > 1e-9 {
		t.Errorf("cpu %+v", r.CPUNsPerPkt)
	}
	if math.Abs(r.LossPct.Max-20) > 1e-9 || r.LossPct.Min != 0 {
		t.Errorf("loss %+v", r.LossPct)
	}
	// Generator and sink CPU measured on one run: 90% and 20% of a core.
	if r.GenCPUPct.N != 1 || math.Abs(r.GenCPUPct.Median-90) > 1e-9 || math.Abs(r.SinkCPUPct.Median-20) > 1e-9 {
		t.Errorf("generator %+v sink %+v", r.GenCPUPct, r.SinkCPUPct)
	}
}

func sampleReport() *Report {
	r := &Report{Started: time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC), Command: "esphub-bench -quick",
		Machine: Machine{Hostname: "h/1", CPUModel: "Test CPU", LogicalCores: 2, LoadStart: "9.0 1 1"}}
	st := func(v float64) Stat { return Stat{v, v * 0.9, v * 1.1, 3} }
	r.Add(
		Result{Scenario: ScenarioCrypto, Path: PathGCMSeal, Size: "64", PPS: st(7e6), Gbps: st(3.6)},
		Result{Scenario: ScenarioIO, Path: PathXDPForward, Size: "64", PPS: st(300e3), Gbps: st(0.15)},
		Result{Scenario: ScenarioESP, Path: PathXDPEncrypt, Size: "64", Workers: 1, PPS: st(240e3), Gbps: st(0.12), GeneratorBound: true,
			GenCPUPct: st(95), SinkCPUPct: st(30)},
		Result{Scenario: ScenarioESP, Path: PathXDPDecrypt, Size: "1400", Workers: 1, Skipped: "backend missing"},
		Result{Scenario: ScenarioSwan, Path: PathTCPSwan, Value: st(300), Unit: "Mbit/s"},
		Result{Scenario: ScenarioTCP, Path: PathTCPEsphub, Value: st(900), Unit: "Mbit/s"},
		Result{Scenario: ScenarioTCP, Path: PathTCPEsphubd, Value: st(750), Unit: "Mbit/s"},
		Result{Scenario: ScenarioIKE, Path: PathIKEHandshakes, Param: "ecp256", Value: st(3000), Unit: "handshakes/s"},
		Result{Scenario: ScenarioIKE, Path: PathSessionMemory, Param: "1000 sessions", Value: st(10 * 1024), Unit: "bytes"},
		Result{Scenario: ScenarioIKE, Path: PathSessionMemory, Param: "10000 sessions", Value: st(30 * 1024), Unit: "bytes"},
	)
	r.ComputeTargets()
	return r
}

func TestTargets(t *testing.T) {
	r := sampleReport()
	want := []struct {
		met    bool
		actual string
	}{
		{false, "80% at 64 B"},
		{false, "3.0× (900 vs 300 Mbit/s); esphubd gateways with IKEv2: 2.5× (750 Mbit/s)"},
		{true, "3000/s"},
		{false, "30.0 KiB at 10000 sessions"},
	}
	if len(r.Targets) != len(want) {
		t.Fatalf("%d targets", len(r.Targets))
	}
	for i, w := range want {
		tg := r.Targets[i]
		if tg.Met == nil || *tg.Met != w.met || !strings.Contains(tg.Actual, w.actual) {
			t.Errorf("target %q: met %v actual %q, want %v %q", tg.Name, tg.Met, tg.Actual, w.met, w.actual)
		}
	}
	empty := &Report{}
	empty.ComputeTargets()
	for _, tg := range empty.Targets {
		if tg.Met != nil || tg.Actual != "not measured" {
			t.Errorf("empty report target %+v", tg)
		}
	}
}

func TestMarkdown(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b, "x.png"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| af_xdp encrypt | 64 | 1 | 240k (216k–264k) (gen) |",
		"| 95 / 30 | 80% | 3% |", // gen / sink CPU, vs I/O ceiling, vs crypto ceiling
		"gen / sink CPU % is the CPU time of the generator's and the sink's threads in percent of one core (medians): on this 2-core machine",
		"not measured: backend missing",
		"## 7. Spoke-to-spoke time to shortcut\n\nNot measured yet.",
		"The generator was the bottleneck",
		"**The machine was shared",
		"![throughput by packet size per path](x.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	r := sampleReport()
	dir := t.TempDir()
	paths, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || filepath.Base(paths[0]) != "2026-11-22T2100Z-h_1.png" {
		t.Fatalf("paths %v", paths)
	}
	js, err := os.ReadFile(filepath.Join(dir, "2026-11-22T2100Z-h_1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != len(r.Results) || back.Results[2] != r.Results[2] {
		t.Errorf("JSON round trip lost results: %+v", back.Results)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Each series colour appears (a line was drawn for each path).
	series := r.PlotData()
	if len(series) != 3 {
		t.Fatalf("plot series %+v", series)
	}
	for i := range series {
		c := palette[i]
		found := false
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y && !found; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
					found = true
					break
				}
			}
		}
		if !found {
			t.Errorf("series %s colour not drawn", series[i].Name)
		}
	}
}
