package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/esphub/esphub/bench"
	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
)

// TestQuickSmoke is the CI smoke test: esphub-bench -quick as root, every
// lab scenario included. It checks that each scenario produced figures,
// not that they reach any target.
func TestQuickSmoke(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "bridge", "iperf3", "ping", "tcpdump", swan.Charon, swan.Swanctl)
	dir := t.TempDir()
	// Scenario 7 runs the daemon.
	daemon := filepath.Join(dir, "esphubd")
	if out, err := exec.Command("go", "build", "-o", daemon, "github.com/esphub/esphub/cmd/esphubd").CombinedOutput(); err != nil {
		t.Fatalf("build esphubd: %v\n%s", err, out)
	}
	var out, errb bytes.Buffer
	start := time.Now()
	if code := run([]string{"-quick", "-out", dir, "-esphubd", daemon}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	took := time.Since(start)
	t.Logf("esphub-bench -quick took %v", took.Round(time.Millisecond))
	if took > 2*time.Minute { // the goal is 60 s; allow for a loaded machine
		t.Errorf("-quick took %v", took)
	}
	js, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(js) != 1 {
		t.Fatalf("json files %v", js)
	}
	b, err := os.ReadFile(js[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, n := range rep.Notes {
		t.Errorf("note: %s", n)
	}
	measured := map[int]int{}
	for _, r := range rep.Results {
		if r.Skipped == "" && (r.PPS.Median > 0 || r.Value.Median > 0) {
			measured[r.Scenario]++
		}
	}
	for _, s := range []int{bench.ScenarioCrypto, bench.ScenarioIO, bench.ScenarioESP, bench.ScenarioTCP, bench.ScenarioSwan, bench.ScenarioIKE, bench.ScenarioShortcut} {
		if measured[s] == 0 {
			t.Errorf("scenario %d produced no figure", s)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", out.String())
	}
}
