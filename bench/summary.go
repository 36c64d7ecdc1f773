package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// headline is one row of the summary table: a figure a reader of the README
// looks for first, taken from a report's results.
type headline struct {
	what   string
	target string
	figure func(r *Report) (string, bool)
}

// pktFigure formats a packet row: "324k pps, 0.17 Gbit/s" and, when the
// reference row exists at the same size, its share of it.
func (r *Report) pktFigure(scenario int, path, size string, workers int, refScenario int, refPath, refName string) (string, bool) {
	x, ok := r.Find(scenario, path, size, workers)
	if !ok {
		return "", false
	}
	s := fmtNum(x.PPS.Median) + " pps, " + fmtNum(x.Gbps.Median) + " Gbit/s"
	if refPath != "" {
		if ref, ok := r.Find(refScenario, refPath, size, 0); ok && ref.PPS.Median > 0 {
			s += fmt.Sprintf(" (%.0f%% of %s)", x.PPS.Median/ref.PPS.Median*100, refName)
		}
	}
	if x.GeneratorBound {
		s += " (gen)"
	}
	return s, true
}

// pair joins the 1- and 2-worker figures of a path at one size.
func (r *Report) pair(path, size string) (string, bool) {
	one, ok1 := r.Find(ScenarioESP, path, size, 1)
	two, ok2 := r.Find(ScenarioESP, path, size, 2)
	f := func(x Result, ok bool) string {
		if !ok {
			return "–"
		}
		s := fmtNum(x.PPS.Median)
		if x.GeneratorBound {
			s += " (gen)"
		}
		return s
	}
	if !ok1 && !ok2 {
		return "", false
	}
	s := f(one, ok1) + " / " + f(two, ok2) + " pps"
	if ok1 && ok2 && one.PPS.Median > 0 {
		s += fmt.Sprintf(" (2 workers: %.2f×)", two.PPS.Median/one.PPS.Median)
	}
	return s, true
}

func (r *Report) value(scenario int, path, param string) (Result, bool) {
	if param == "" {
		return r.Find(scenario, path, "", 0)
	}
	return r.findParam(scenario, path, param)
}

// headlines are the summary's rows, in the order the README shows them.
var headlines = []headline{
	{"AES-128-GCM seal, 1400 B, one core (crypto ceiling)", "–", func(r *Report) (string, bool) {
		return r.pktFigure(ScenarioCrypto, PathGCMSeal, "1400", 0, 0, "", "")
	}},
	{"Go crypto/cipher AES-128-GCM seal, 1400 B, one core (reference)", "–", func(r *Report) (string, bool) {
		return r.pktFigure(ScenarioCrypto, PathGCMSealStdlib, "1400", 0, ScenarioCrypto, PathGCMSeal, "the ceiling")
	}},
	{"engine encrypt without I/O, 1400 B, one core", "–", func(r *Report) (string, bool) {
		return r.pktFigure(ScenarioESP, PathEngineEncrypt, "1400", 0, ScenarioCrypto, PathGCMSeal, "bare GCM")
	}},
	{"AF_XDP forward without crypto, 64 B (I/O ceiling)", "–", func(r *Report) (string, bool) {
		return r.pktFigure(ScenarioIO, PathXDPForward, "64", 0, 0, "", "")
	}},
	{"AF_XDP encrypt, 64 B, 1 worker", "≥ 90% of the I/O ceiling", func(r *Report) (string, bool) {
		return r.pktFigure(ScenarioESP, PathXDPEncrypt, "64", 1, ScenarioIO, PathXDPForward, "the I/O ceiling")
	}},
	{"AF_XDP encrypt, 64 B, 1 / 2 workers", "–", func(r *Report) (string, bool) { return r.pair(PathXDPEncrypt, "64") }},
	{"AF_XDP decrypt (anti-replay on), 64 B, 1 / 2 workers", "–", func(r *Report) (string, bool) { return r.pair(PathXDPDecrypt, "64") }},
	{"AF_XDP hub hairpin (decrypt + re-encrypt), 64 B, 1 / 2 workers", "–", func(r *Report) (string, bool) { return r.pair(PathXDPHairpin, "64") }},
	{"portable encrypt, 64 B, 1 / 2 workers", "–", func(r *Report) (string, bool) { return r.pair(PathPortableEnc, "64") }},
	{"portable decrypt, 64 B, 1 / 2 workers", "–", func(r *Report) (string, bool) { return r.pair(PathPortableDec, "64") }},
	{"portable hub hairpin, 64 B, 1 / 2 workers", "–", func(r *Report) (string, bool) { return r.pair(PathPortableHairpin, "64") }},
	{"iperf3 TCP through esphub vs strongSwan kernel-libipsec", "≥ 10×", func(r *Report) (string, bool) {
		sw, ok := r.value(ScenarioSwan, PathTCPSwan, "")
		if !ok || sw.Value.Median <= 0 {
			return "", false
		}
		var parts []string
		for _, p := range []struct{ path, name string }{
			{PathTCPEsphubXDP, "AF_XDP gateways, static SAs"},
			{PathTCPEsphubd, "esphubd gateways, IKEv2"},
			{PathTCPEsphub, "portable gateways"},
		} {
			if x, ok := r.value(ScenarioTCP, p.path, ""); ok {
				parts = append(parts, fmt.Sprintf("%s %s Mbit/s (%.1f×)", p.name, fmtNum(x.Value.Median), x.Value.Median/sw.Value.Median))
			} else {
				parts = append(parts, p.name+" not measured")
			}
		}
		parts = append(parts, "strongSwan "+fmtNum(sw.Value.Median)+" Mbit/s")
		return strings.Join(parts, "; "), true
	}},
	{"IKE sessions/s accepted by esphubd's hub, ECP-256 / MODP-2048 (generator on the same cores)", "≥ 2,500/s (ECP-256)", func(r *Report) (string, bool) {
		e, ok1 := r.value(ScenarioIKE, PathIKEHandshakes, "ecp256")
		m, ok2 := r.value(ScenarioIKE, PathIKEHandshakes, "modp2048")
		if !ok1 && !ok2 {
			return "", false
		}
		f := func(x Result, ok bool) string {
			if !ok {
				return "–"
			}
			return fmtNum(x.Value.Median)
		}
		return f(e, ok1) + " / " + f(m, ok2), true
	}},
	{"hub memory per idle session (IKE, session, Virtual-Access, dataplane SAs)", "≤ 20 KiB", func(r *Report) (string, bool) {
		return r.memory(PathSessionMemory)
	}},
	{"IKE engine alone, memory per session", "–", func(r *Report) (string, bool) { return r.memory(PathSessionMemoryIKE) }},
	{"spoke-to-spoke time to shortcut, cold runs", "–", func(r *Report) (string, bool) {
		x, ok := r.value(ScenarioShortcut, PathShortcutLatency, "")
		if !ok {
			return "", false
		}
		return fmt.Sprintf("%s %s (%s–%s)", fmtNum(x.Value.Median), x.Unit, fmtNum(x.Value.Min), fmtNum(x.Value.Max)), true
	}},
}

// memory lists the bytes per session of path at each session count.
func (r *Report) memory(path string) (string, bool) {
	var counts, vals []string
	last := 0.0
	for _, x := range r.Results {
		if x.Scenario == ScenarioIKE && x.Path == path && x.Skipped == "" {
			counts = append(counts, strings.TrimSuffix(x.Param, " sessions"))
			vals = append(vals, fmt.Sprintf("%.1f", x.Value.Median/1000))
			last = x.Value.Median
		}
	}
	if len(vals) == 0 {
		return "", false
	}
	return fmt.Sprintf("%s kB at %s sessions (%.1f KiB at the largest)", strings.Join(vals, " / "), strings.Join(counts, " / "), last/1024), true
}

// WriteSummary writes the report's headline figures as one Markdown table
// (figure, median, target), preceded by a line naming the run; rows the
// report did not measure say so. The README's table is this output.
func (r *Report) WriteSummary(w io.Writer, reportFile string) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Run: `%s`, %s on %s (%s, %d logical cores), %s; load average %s at the start, %s at the end",
		r.Command, r.Started.UTC().Format("2006-01-02 15:04 UTC"), m.Hostname, m.CPUModel, m.LogicalCores, r.Duration.Round(1e9), m.LoadStart, m.LoadEnd)
	if m.Shared() {
		b.WriteString(" (shared machine: absolute figures are low and noisy, read the ratios)")
	}
	if reportFile != "" {
		fmt.Fprintf(&b, ". All tables: `%s`", reportFile)
	}
	b.WriteString(".\n\n| figure | median | target |\n|---|---|---|\n")
	for _, h := range headlines {
		fig, ok := h.figure(r)
		if !ok {
			fig = "not measured"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", h.what, fig, h.target)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return &r, nil
}

// LatestFullReport returns the JSON report in dir with the newest start
// time that is a full run: not -quick and with every scenario measured.
func LatestFullReport(dir string) (string, *Report, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return "", nil, err
	}
	var best string
	var bestRep *Report
	for _, p := range paths {
		r, err := ReadReport(p)
		if err != nil || r.Quick || !r.complete() {
			continue
		}
		if bestRep == nil || r.Started.After(bestRep.Started) {
			best, bestRep = p, r
		}
	}
	if bestRep == nil {
		return "", nil, fmt.Errorf("no full benchmark report in %s", dir)
	}
	return best, bestRep, nil
}

// complete reports whether every scenario has at least one row.
func (r *Report) complete() bool {
	var seen []int
	for _, x := range r.Results {
		if !slices.Contains(seen, x.Scenario) {
			seen = append(seen, x.Scenario)
		}
	}
	return len(seen) == numScenarioTitles-1
}

// Summary markers: the README's table sits between these lines, and
// ReplaceSummary rewrites what is between them.
const (
	SummaryBegin = "<!-- bench-summary:begin (generated by esphub-bench -readme; do not edit) -->"
	SummaryEnd   = "<!-- bench-summary:end -->"
)

// ReplaceSummary returns doc with the text between SummaryBegin and
// SummaryEnd replaced by summary.
func ReplaceSummary(doc, summary []byte) ([]byte, error) {
	i := bytes.Index(doc, []byte(SummaryBegin))
	j := bytes.Index(doc, []byte(SummaryEnd))
	if i < 0 || j < i {
		return nil, errors.New("summary markers not found (" + SummaryBegin + " … " + SummaryEnd + ")")
	}
	var out bytes.Buffer
	out.Write(doc[:i+len(SummaryBegin)])
	out.WriteString("\n")
	out.Write(bytes.TrimSpace(summary))
	out.WriteString("\n")
	out.Write(doc[j:])
	return out.Bytes(), nil
}
