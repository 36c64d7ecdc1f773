package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Scenario numbers, as issue 9 numbers them.
const (
	ScenarioCrypto    = 1 // bare AES-GCM on one core
	ScenarioIO        = 2 // AF_XDP forwarding without crypto
	ScenarioESP       = 3 // esphub encrypt / decrypt / hairpin
	ScenarioTCP       = 4 // iperf3 through esphub
	ScenarioSwan      = 5 // iperf3 through strongSwan kernel-libipsec
	ScenarioIKE       = 6 // IKE handshakes per second, memory per session
	ScenarioShortcut  = 7 // spoke-to-spoke time to shortcut
	numScenarioTitles = 8
)

var scenarioTitles = [numScenarioTitles]string{
	ScenarioCrypto:   "Crypto ceiling: bare AES-128-GCM on one core",
	ScenarioIO:       "I/O ceiling: AF_XDP forwarding without crypto",
	ScenarioESP:      "esphub packet path: encrypt (LAN→WAN), decrypt (WAN→LAN) and hub hairpin (spoke→hub→spoke)",
	ScenarioTCP:      "TCP bulk transfer (iperf3) through esphub",
	ScenarioSwan:     "Userspace-ESP reference: iperf3 through strongSwan kernel-libipsec",
	ScenarioIKE:      "Control plane: IKE handshakes per second and memory per session",
	ScenarioShortcut: "Spoke-to-spoke time to shortcut",
}

// ScenarioTitle returns the heading of scenario n.
func ScenarioTitle(n int) string {
	if n > 0 && n < numScenarioTitles {
		return scenarioTitles[n]
	}
	return fmt.Sprintf("Scenario %d", n)
}

// Path names the report and the target checks look results up by.
const (
	PathGCMSeal          = "aes-gcm seal"
	PathGCMOpen          = "aes-gcm open"
	PathGCMSealStdlib    = "go crypto/cipher aes-gcm seal (reference)"
	PathGCMOpenStdlib    = "go crypto/cipher aes-gcm open (reference)"
	PathEngineEncrypt    = "engine encrypt (no I/O)"
	PathEngineDecrypt    = "engine decrypt (no I/O)"
	PathXDPForward       = "af_xdp forward"
	PathXDPGenerator     = "generator → sink (no forwarder)"
	PathXDPEncrypt       = "af_xdp encrypt"
	PathXDPDecrypt       = "af_xdp decrypt"
	PathPortableEnc      = "portable encrypt"
	PathPortableDec      = "portable decrypt"
	PathXDPHairpin       = "af_xdp hairpin (spoke→hub→spoke)"
	PathPortableHairpin  = "portable hairpin (spoke→hub→spoke)"
	PathTCPEsphub        = "iperf3 tcp via esphub"
	PathTCPEsphubXDP     = "iperf3 tcp via esphub af_xdp"
	PathTCPEsphubd       = "iperf3 tcp via esphubd af_xdp (IKEv2)"
	PathTCPSwan          = "iperf3 tcp via strongswan kernel-libipsec"
	PathTCPPlain         = "iperf3 tcp plain veth"
	PathIKEHandshakes    = "ike handshakes"
	PathSessionMemory    = "memory per session (esphubd hub)"
	PathSessionMemoryIKE = "memory per session (IKE engine only)"
	PathShortcutLatency  = "time to shortcut"
)

// Result is one row of the report: one path at one packet size (or one
// non-packet measurement, with Value and Unit).
type Result struct {
	Scenario int    `json:"scenario"`
	Path     string `json:"path"`
	// Size is the packet size label: "64", "512", "1400", "imix", or "" when
	// packet size does not apply.
	Size    string `json:"size,omitempty"`
	Workers int    `json:"workers,omitempty"`
	// Harness says what drove the measurement (e.g. "engine+AF_XDP in lab
	// namespaces, no daemon").
	Harness string `json:"harness,omitempty"`
	Runs    int    `json:"runs"`

	PPS         Stat `json:"pps,omitzero"`
	Gbps        Stat `json:"gbps,omitzero"`
	CPUNsPerPkt Stat `json:"cpu_ns_per_packet,omitzero"`
	OfferedPPS  Stat `json:"offered_pps,omitzero"`
	LossPct     Stat `json:"loss_percent,omitzero"`
	// GenCPUPct and SinkCPUPct are the generator's and the sink's CPU in
	// percent of one core while the row was measured: what they took from
	// the cores the device under test shares with them.
	GenCPUPct  Stat `json:"generator_cpu_percent,omitzero"`
	SinkCPUPct Stat `json:"sink_cpu_percent,omitzero"`

	// Value and Unit carry measurements that are not packet rates
	// (Mbit/s of TCP, handshakes/s, bytes per session, milliseconds).
	Value Stat   `json:"value,omitzero"`
	Unit  string `json:"unit,omitempty"`
	// Param qualifies Value (e.g. "ecp256", "10000 sessions").
	Param string `json:"param,omitempty"`

	// GeneratorBound is set when the offered load, not the path under
	// test, limited the figure.
	GeneratorBound bool   `json:"generator_bound,omitempty"`
	Note           string `json:"note,omitempty"`
	// Skipped says why the row was not measured; the other fields are
	// then empty.
	Skipped string `json:"skipped,omitempty"`
}

// Target is one goal the report states a result against. Targets are
// reported, never enforced.
type Target struct {
	Name   string  `json:"name"`
	Goal   string  `json:"goal"`
	Actual string  `json:"actual"`
	Ratio  float64 `json:"ratio,omitempty"` // actual relative to the goal (≥1 is met)
	Met    *bool   `json:"met,omitempty"`   // nil when not measured
}

// Report is a whole benchmark run.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Command  string        `json:"command"`
	Quick    bool          `json:"quick"`
	Machine  Machine       `json:"machine"`
	Results  []Result      `json:"results"`
	Targets  []Target      `json:"targets"`
	// Notes are run-wide remarks (errors of whole scenarios, load on the
	// machine).
	Notes []string `json:"notes,omitempty"`
}

// Add appends results.
func (r *Report) Add(rs ...Result) { r.Results = append(r.Results, rs...) }

// Find returns the first measured result with the given scenario, path,
// size and workers (workers 0 matches any).
func (r *Report) Find(scenario int, path, size string, workers int) (Result, bool) {
	for _, x := range r.Results {
		if x.Scenario == scenario && x.Path == path && x.Size == size && x.Skipped == "" &&
			(workers == 0 || x.Workers == workers) {
			return x, true
		}
	}
	return Result{}, false
}

// ComputeTargets fills r.Targets from the results, against the four targets
// of issue 9.
func (r *Report) ComputeTargets() {
	r.Targets = nil
	met := func(ok bool) *bool { return &ok }
	// 1. Encrypt path ≥ 90% of the AF_XDP I/O ceiling (best size measured
	// on both, 1 worker; 64 B preferred because it stresses per-packet cost).
	t := Target{Name: "encrypt path vs AF_XDP I/O ceiling", Goal: "≥ 90% of the I/O ceiling (pps, same size)", Actual: "not measured"}
	for _, size := range []string{"64", "1400", "512", "imix"} {
		enc, ok1 := r.Find(ScenarioESP, PathXDPEncrypt, size, 1)
		io, ok2 := r.Find(ScenarioIO, PathXDPForward, size, 0)
		if ok1 && ok2 && io.PPS.Median > 0 {
			ratio := enc.PPS.Median / io.PPS.Median
			t.Actual = fmt.Sprintf("%.0f%% at %s B (%s vs %s pps)", ratio*100, size, fmtNum(enc.PPS.Median), fmtNum(io.PPS.Median))
			t.Ratio = ratio / 0.9
			t.Met = met(ratio >= 0.9)
			break
		}
	}
	r.Targets = append(r.Targets, t)

	// 2. TCP through esphub ≥ 10× strongSwan kernel-libipsec.
	t = Target{Name: "TCP through esphub vs strongSwan kernel-libipsec", Goal: "≥ 10×", Actual: "not measured"}
	// The AF_XDP gateways are esphub's fast path; the portable backend's
	// figure stands in when they were not measured.
	es, ok1 := r.Find(ScenarioTCP, PathTCPEsphubXDP, "", 0)
	if !ok1 {
		es, ok1 = r.Find(ScenarioTCP, PathTCPEsphub, "", 0)
	}
	sw, ok2 := r.Find(ScenarioSwan, PathTCPSwan, "", 0)
	switch {
	case ok1 && ok2 && sw.Value.Median > 0:
		ratio := es.Value.Median / sw.Value.Median
		t.Actual = fmt.Sprintf("%.1f× (%s vs %s Mbit/s)", ratio, fmtNum(es.Value.Median), fmtNum(sw.Value.Median))
		t.Ratio = ratio / 10
		t.Met = met(ratio >= 10)
		// The same through the real daemons (IKEv2 up), beside it.
		if d, ok := r.Find(ScenarioTCP, PathTCPEsphubd, "", 0); ok {
			t.Actual += fmt.Sprintf("; esphubd gateways with IKEv2: %.1f× (%s Mbit/s)", d.Value.Median/sw.Value.Median, fmtNum(d.Value.Median))
		}
	case ok2:
		t.Actual = fmt.Sprintf("esphub not measured; strongSwan %s Mbit/s", fmtNum(sw.Value.Median))
	}
	r.Targets = append(r.Targets, t)

	// 3. ≥ 2,500 IKE sessions/s with ECP-256 on 2 cores.
	t = Target{Name: "IKE sessions per second, PSK, ECP-256", Goal: "≥ 2,500/s on 2 cores", Actual: "not measured"}
	if x, ok := r.findParam(ScenarioIKE, PathIKEHandshakes, "ecp256"); ok {
		t.Actual = fmt.Sprintf("%s/s", fmtNum(x.Value.Median))
		t.Ratio = x.Value.Median / 2500
		t.Met = met(x.Value.Median >= 2500)
	}
	r.Targets = append(r.Targets, t)

	// 4. ≤ 20 KiB per idle session (the largest count measured).
	t = Target{Name: "memory per idle session (responder)", Goal: "≤ 20 KiB", Actual: "not measured"}
	var best *Result
	for i := range r.Results {
		x := &r.Results[i]
		if x.Scenario == ScenarioIKE && x.Path == PathSessionMemory && x.Skipped == "" {
			best = x
		}
	}
	if best != nil {
		kib := best.Value.Median / 1024
		t.Actual = fmt.Sprintf("%.1f KiB at %s", kib, best.Param)
		if kib > 0 {
			t.Ratio = 20 / kib
		}
		t.Met = met(kib <= 20)
	}
	r.Targets = append(r.Targets, t)
}

func (r *Report) findParam(scenario int, path, param string) (Result, bool) {
	for _, x := range r.Results {
		if x.Scenario == scenario && x.Path == path && x.Param == param && x.Skipped == "" {
			return x, true
		}
	}
	return Result{}, false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// BaseName returns the file name stem DATE-HOST of the report
// (2006-01-02T1504Z-host), so runs on one day do not overwrite each other.
func (r *Report) BaseName() string {
	host := r.Machine.Hostname
	if host == "" {
		host = "unknown"
	}
	host = strings.Map(func(c rune) rune {
		if c == '/' || c == ' ' || c == os.PathSeparator {
			return '_'
		}
		return c
	}, host)
	return r.Started.UTC().Format("2006-01-02T1504Z") + "-" + host
}

// WriteFiles writes DIR/BASE.md, DIR/BASE.json and DIR/BASE.png and
// returns their paths.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	base := filepath.Join(dir, r.BaseName())
	var paths []string
	write := func(path string, f func(io.Writer) error) error {
		fh, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		if err := f(fh); err != nil {
			fh.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
		paths = append(paths, path)
		return nil
	}
	png := base + ".png"
	if err := write(png, r.WritePlot); err != nil {
		return paths, err
	}
	if err := write(base+".md", func(w io.Writer) error { return r.WriteMarkdown(w, filepath.Base(png)) }); err != nil {
		return paths, err
	}
	if err := write(base+".json", r.WriteJSON); err != nil {
		return paths, err
	}
	return paths, nil
}

// fmtNum formats a figure with three significant digits and a k/M suffix.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case a >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.3g", v)
	case a == 0:
		return "0"
	}
	return fmt.Sprintf("%.3g", v)
}

// fmtStat formats "median (min–max)".
func fmtStat(s Stat) string {
	if s.IsZero() {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

// WriteMarkdown renders the report for people: machine, targets, one table
// per scenario with ratios to the ceilings, and the plot.
func (r *Report) WriteMarkdown(w io.Writer, plotFile string) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# esphub benchmark — %s on %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"), m.Hostname)
	fmt.Fprintf(&b, "Command: `%s`", r.Command)
	if r.Quick {
		b.WriteString(" (quick: one size, one run each; figures are indicative only)")
	}
	fmt.Fprintf(&b, ". Duration %s.\n\n", r.Duration.Round(time.Second))
	// The summary first: the README's table is this section (esphub-bench
	// -readme copies it there).
	b.WriteString("## Summary\n\n")
	if err := r.WriteSummary(&b, ""); err != nil {
		return err
	}
	b.WriteString("\n")
	b.WriteString("## Machine\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPU | %s (%d logical cores, %d physical) |\n", m.CPUModel, m.LogicalCores, m.PhysicalCores)
	fmt.Fprintf(&b, "| CPU flags that matter | %s |\n", strings.Join(m.RelevantFlags, " "))
	fmt.Fprintf(&b, "| Kernel | %s |\n| Go | %s (%s/%s) |\n", m.Kernel, m.GoVersion, m.GOOS, m.GOARCH)
	fmt.Fprintf(&b, "| Load average at start / end | %s / %s |\n\n", m.LoadStart, m.LoadEnd)
	if m.Shared() {
		b.WriteString("**The machine was shared with other work during this run** (load average above the core count): " +
			"absolute figures are low and noisy; the ratios between paths measured in the same run are what to read.\n\n")
	}

	b.WriteString("## Targets (reported, not enforced)\n\n| target | goal | measured | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		met := "not measured"
		if t.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*t.Met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Actual, met)
	}
	b.WriteString("\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}

	scen := map[int][]Result{}
	for _, x := range r.Results {
		scen[x.Scenario] = append(scen[x.Scenario], x)
	}
	for n := 1; n < numScenarioTitles; n++ {
		rows := scen[n]
		fmt.Fprintf(&b, "## %d. %s\n\n", n, ScenarioTitle(n))
		if len(rows) == 0 {
			b.WriteString("Not measured yet.\n\n")
			continue
		}
		if isPacketScenario(rows) {
			r.packetTable(&b, rows)
		} else {
			valueTable(&b, rows)
		}
		var notes []string
		for _, x := range rows {
			if x.Harness != "" && !slices.Contains(notes, "Harness: "+x.Harness) {
				notes = append(notes, "Harness: "+x.Harness)
			}
			if n := strings.TrimSpace(x.Note); n != "" && !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
			if !x.OfferedPPS.IsZero() {
				gen := "Offered pps is what our generator sent (at its full rate); with loss near zero the generator, not the path, was the limit (marked (gen)); with high loss the path under test was."
				if !slices.Contains(notes, gen) {
					notes = append(notes, gen)
				}
			}
			if !x.GenCPUPct.IsZero() {
				gen := fmt.Sprintf("gen / sink CPU %% is the CPU time of the generator's and the sink's threads in percent of one core (medians): on this %d-core machine that is CPU the device under test did not get.", r.Machine.LogicalCores)
				if !slices.Contains(notes, gen) {
					notes = append(notes, gen)
				}
			}
			if x.GeneratorBound {
				gb := "The generator was the bottleneck for the rows marked (gen): the path under test kept up with all it was offered."
				if !slices.Contains(notes, gb) {
					notes = append(notes, gb)
				}
			}
		}
		for _, s := range notes {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	if plotFile != "" {
		fmt.Fprintf(&b, "## Throughput by packet size\n\n![throughput by packet size per path](%s)\n", plotFile)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func isPacketScenario(rows []Result) bool {
	for _, x := range rows {
		if !x.PPS.IsZero() {
			return true
		}
	}
	return false
}

func (r *Report) packetTable(b *strings.Builder, rows []Result) {
	b.WriteString("| path | size (B) | workers | pps median (min–max) | Gbit/s | CPU ns/pkt | offered pps | loss % | gen / sink CPU % | vs I/O ceiling | vs crypto ceiling |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range rows {
		if x.Skipped != "" {
			fmt.Fprintf(b, "| %s | %s | %s | not measured: %s | | | | | | | |\n", x.Path, x.Size, workers(x.Workers), x.Skipped)
			continue
		}
		pps := fmtStat(x.PPS)
		if x.GeneratorBound {
			pps += " (gen)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Path, x.Size, workers(x.Workers), pps,
			fmtStat(x.Gbps), fmtStat(x.CPUNsPerPkt), fmtStat(x.OfferedPPS), fmtStat(x.LossPct), genSinkCPU(x), r.ioRatio(x), r.cryptoRatio(x))
	}
	b.WriteString("\n")
}

// genSinkCPU formats the generator's and the sink's median CPU, "" for
// rows without them.
func genSinkCPU(x Result) string {
	if x.GenCPUPct.IsZero() && x.SinkCPUPct.IsZero() {
		return ""
	}
	f := func(s Stat) string {
		if s.IsZero() {
			return "–"
		}
		return fmt.Sprintf("%.0f", s.Median)
	}
	return f(x.GenCPUPct) + " / " + f(x.SinkCPUPct)
}

func workers(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// ratio compares x's pps with the reference path of another scenario at
// the same size.
func (r *Report) ratio(x Result, scenario int, path string) string {
	if x.Scenario == scenario {
		return ""
	}
	ref, ok := r.Find(scenario, path, x.Size, 0)
	if !ok || ref.PPS.Median == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", x.PPS.Median/ref.PPS.Median*100)
}

// ioRatio compares an AF_XDP path with the AF_XDP I/O ceiling; in-process
// paths have no I/O to compare.
func (r *Report) ioRatio(x Result) string {
	if !strings.HasPrefix(x.Path, "af_xdp") {
		return ""
	}
	return r.ratio(x, ScenarioIO, PathXDPForward)
}

// cryptoRatio compares x with the bare AES-GCM operation of its direction.
func (r *Report) cryptoRatio(x Result) string {
	if x.Scenario != ScenarioESP {
		return ""
	}
	path := PathGCMSeal
	if strings.Contains(x.Path, "decrypt") {
		path = PathGCMOpen
	}
	return r.ratio(x, ScenarioCrypto, path)
}

func valueTable(b *strings.Builder, rows []Result) {
	b.WriteString("| what | parameter | median (min–max) | unit | runs |\n|---|---|---|---|---|\n")
	for _, x := range rows {
		if x.Skipped != "" {
			fmt.Fprintf(b, "| %s | %s | not measured: %s | | |\n", x.Path, x.Param, x.Skipped)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d |\n", x.Path, x.Param, fmtStat(x.Value), x.Unit, x.Runs)
	}
	b.WriteString("\n")
}
