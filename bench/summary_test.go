package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSummary checks the headline table: figures of the rows a report has,
// ratios to their references, 1- and 2-worker pairs, and "not measured"
// for the rest.
func TestSummary(t *testing.T) {
	r := sampleReport()
	st := func(v float64) Stat { return Stat{v, v, v, 3} }
	r.Add(Result{Scenario: ScenarioESP, Path: PathXDPEncrypt, Size: "64", Workers: 2, PPS: st(360e3), Gbps: st(0.18)})
	var b bytes.Buffer
	if err := r.WriteSummary(&b, "bench/results/x.md"); err != nil {
		t.Fatal(err)
	}
	sum := b.String()
	for _, want := range []string{
		"Run: `esphub-bench -quick`, 2026-11-22 21:00 UTC on h/1 (Test CPU, 2 logical cores)",
		"All tables: `bench/results/x.md`.",
		"| AF_XDP encrypt, 64 B, 1 worker | 240k pps, 0.12 Gbit/s (80% of the I/O ceiling) (gen) | ≥ 90% of the I/O ceiling |",
		"| AF_XDP encrypt, 64 B, 1 / 2 workers | 240k (gen) / 360k pps (2 workers: 1.50×) | – |",
		"| AF_XDP hub hairpin (decrypt + re-encrypt), 64 B, 1 / 2 workers | not measured | – |",
		"AF_XDP gateways, static SAs not measured; esphubd gateways, IKEv2 750 Mbit/s (2.5×); portable gateways 900 Mbit/s (3.0×); strongSwan 300 Mbit/s",
		"| 3000 / – |",
		"10.2 / 30.7 kB at 1000 / 10000 sessions (30.0 KiB at the largest)",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	// The report's Markdown starts with the same table.
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Summary\n\nRun: ") || !strings.Contains(md.String(), "| AF_XDP encrypt, 64 B, 1 / 2 workers |") {
		t.Errorf("markdown lacks the summary:\n%s", md.String())
	}
}

func TestReplaceSummary(t *testing.T) {
	doc := []byte("# x\n\n" + SummaryBegin + "\nold table\n" + SummaryEnd + "\n\nafter\n")
	out, err := ReplaceSummary(doc, []byte("\nnew table\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# x\n\n" + SummaryBegin + "\nnew table\n" + SummaryEnd + "\n\nafter\n"; string(out) != want {
		t.Errorf("got %q", out)
	}
	// Idempotent.
	again, _ := ReplaceSummary(out, []byte("new table"))
	if !bytes.Equal(again, out) {
		t.Errorf("second replacement changed the document: %q", again)
	}
	for _, bad := range []string{"no markers", SummaryEnd + "\n" + SummaryBegin} {
		if _, err := ReplaceSummary([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestLatestFullReport checks that the newest complete, non-quick report
// is chosen, whatever the files' names.
func TestLatestFullReport(t *testing.T) {
	dir := t.TempDir()
	full := func(start time.Time, quick bool, scenarios int) *Report {
		r := &Report{Started: start, Quick: quick}
		for n := 1; n <= scenarios; n++ {
			r.Add(Result{Scenario: n, Path: "p", Value: Stat{1, 1, 1, 1}})
		}
		return r
	}
	t0 := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	for name, r := range map[string]*Report{
		"a.json": full(t0, false, 7),
		"b.json": full(t0.Add(time.Hour), false, 7), // the one
		"c.json": full(t0.Add(2*time.Hour), true, 7),
		"d.json": full(t0.Add(3*time.Hour), false, 4), // partial
	} {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path, r, err := LatestFullReport(dir)
	if err != nil || filepath.Base(path) != "b.json" || !r.Started.Equal(t0.Add(time.Hour)) {
		t.Errorf("got %s %v", path, err)
	}
	if _, _, err := LatestFullReport(t.TempDir()); err == nil {
		t.Error("empty directory: no error")
	}
}
