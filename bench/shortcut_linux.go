package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/esphub/esphub/internal/s2s"
)

// shortcutRuns is how many shortcut formations scenario 7 measures.
const shortcutRuns = 10

// shortcutLatency is scenario 7: spoke-to-spoke time to shortcut with the
// real esphubd on hub-3spokes-nat (examples/spoke-to-spoke), measured by
// internal/s2s: from the first echo of a continuous ping (one every 10 ms)
// to the first echo on the direct spoke-to-spoke session, each run from
// cold (sessions and NHRP cleared, a fresh target address).
func shortcutLatency(ctx context.Context, o *Options) ([]Result, error) {
	root, err := moduleRoot(o.Root)
	if err != nil {
		return nil, err
	}
	daemon, err := findEsphubd(o.Esphubd)
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"ping", "tcpdump"} {
		if _, err := exec.LookPath(c); err != nil {
			return nil, fmt.Errorf("scenario 7 needs %s", c)
		}
	}
	runs := shortcutRuns
	if o.Quick {
		runs = 1
	}
	log := o.Logger
	res, err := s2s.Measure(ctx, s2s.Options{Root: root, Esphubd: daemon,
		Logf: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }}, runs)
	if len(res.Runs) == 0 {
		if err == nil {
			err = errors.New("no run finished")
		}
		return nil, fmt.Errorf("time to shortcut: %w", err)
	}
	var ms, hub []float64
	for _, r := range res.Runs {
		ms = append(ms, float64(r.Switch)/float64(time.Millisecond))
		hub = append(hub, float64(r.ViaHub))
	}
	h := Summarize(hub)
	r := Result{Scenario: ScenarioShortcut, Path: PathShortcutLatency, Value: Summarize(ms), Unit: "ms", Runs: len(ms),
		Param: "spoke1 → spoke2, hub-3spokes-nat",
		Harness: "internal/s2s: esphubd on hub, spoke1 and spoke2 of lab/topologies/hub-3spokes-nat.yaml with examples/spoke-to-spoke; " +
			"a ping every 10 ms from host1 to a fresh address of host2; time from the first echo (to the hub) to the first echo on the direct " +
			"spoke-to-spoke ESP session, from a capture on spoke1's WAN; between runs the spoke-to-spoke sessions and NHRP caches are cleared, so every run is cold " +
			"(redirect, resolution, a new IKEv2 session, route install)",
		Note: fmt.Sprintf("Echoes that went through the hub before the switch: median %.0f (min %.0f, max %.0f).", h.Median, h.Min, h.Max)}
	if err != nil {
		r.Note += fmt.Sprintf(" Only %d of %d runs finished: %v.", len(ms), runs, oneLine(err))
	}
	return []Result{r}, nil
}

// moduleRoot returns dir, or when dir is empty the nearest directory at or
// above the working directory whose go.mod declares esphub's module:
// scenario 7 reads the lab topology and example configurations from the
// source tree.
func moduleRoot(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	d, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if isEsphubModule(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("scenario 7 needs esphub's source tree (lab topologies, examples): run from it or pass -root")
		}
		d = up
	}
}

func isEsphubModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/esphub/esphub"
		}
	}
	return false
}

// findEsphubd returns path, or when it is empty the esphubd beside this
// executable (as make build puts them) or on PATH.
func findEsphubd(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("esphubd: %w", err)
		}
		return path, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "esphubd")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("esphubd"); err == nil {
		return p, nil
	}
	return "", errors.New("scenario 7 needs the esphubd binary: build it (make build) or pass -esphubd")
}
