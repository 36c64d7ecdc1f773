package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Options configure a benchmark run.
type Options struct {
	// Quick is the CI smoke test: one size (QuickSize), one run each, short
	// runs and small session counts; the whole run takes under a minute.
	Quick bool
	// Runs per row (default 3; 1 when Quick).
	Runs int
	// Duration of one packet run (default 2 s; 300 ms when Quick).
	Duration time.Duration
	// Sizes to measure (default Sizes; QuickSize when Quick).
	Sizes []string
	// Scenarios to run by number (default all).
	Scenarios []int
	// Parts, when set, runs only the parts of the selected scenarios whose
	// name contains one of these strings (case-insensitive), e.g.
	// "hairpin" or "esphubd": to re-measure a few rows without the rest.
	Parts []string
	// Sessions are the session counts of the memory-per-session
	// measurement (default 1,000, 10,000, 50,000; 200 when Quick).
	Sessions []int
	// Root is esphub's source tree, which scenario 7 takes its lab topology
	// and configurations from (default: found upwards from the working
	// directory). Esphubd is the daemon binary scenario 7 runs (default:
	// beside this executable, then on PATH).
	Root, Esphubd string
	// Command is recorded in the report as the way to reproduce it.
	Command string
	// MemProfile, when set, is a path prefix: scenario 6's memory
	// measurement writes a heap profile of the process at each session
	// count, to MemProfile-PATH-N.pprof, for go tool pprof.
	MemProfile string
	Logger     *slog.Logger
}

// QuickSize is the packet size of a quick run.
const QuickSize = "1400"

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Runs <= 0 {
		o.Runs = 3
		if o.Quick {
			o.Runs = 1
		}
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
		if o.Quick {
			o.Duration = 300 * time.Millisecond
		}
	}
	if len(o.Sizes) == 0 {
		o.Sizes = Sizes
		if o.Quick {
			o.Sizes = []string{QuickSize}
		}
	}
	if len(o.Sessions) == 0 {
		o.Sessions = []int{1000, 10000, 50000}
		if o.Quick {
			o.Sessions = []int{200}
		}
	}
}

func (o *Options) want(st step) bool {
	if len(o.Scenarios) > 0 && !slices.Contains(o.Scenarios, st.scenario) {
		return false
	}
	if len(o.Parts) == 0 {
		return true
	}
	for _, p := range o.Parts {
		if strings.Contains(strings.ToLower(st.name), strings.ToLower(strings.TrimSpace(p))) {
			return true
		}
	}
	return false
}

// PartNames returns the names of the benchmark's parts by scenario, in the
// order a run takes them: what Options.Parts selects from.
func PartNames() map[int][]string {
	out := map[int][]string{}
	for _, st := range steps() {
		out[st.scenario] = append(out[st.scenario], st.name)
	}
	return out
}

// step is one part of the run: a scenario (or a part of one) that returns
// rows, or an error that the report records as a note and a skipped row.
type step struct {
	scenario int
	name     string
	run      func(ctx context.Context, o *Options) ([]Result, error)
}

// steps lists the parts of a run in order; the platform-specific ones are
// appended by platformSteps.
func steps() []step {
	s := []step{
		{ScenarioCrypto, "crypto ceiling", func(_ context.Context, o *Options) ([]Result, error) {
			return CryptoCeiling(o.runConfig())
		}},
		{ScenarioESP, "engine in process", func(_ context.Context, o *Options) ([]Result, error) {
			return EnginePath(o.runConfig())
		}},
	}
	return append(s, platformSteps()...)
}

func (o *Options) runConfig() RunConfig {
	return RunConfig{Runs: o.Runs, Duration: o.Duration, Sizes: o.Sizes}
}

// Run runs the selected scenarios and returns the report. A scenario that
// fails does not stop the others: its error becomes a note and a row marked
// not measured. Run returns an error only when ctx is cancelled.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	rep := &Report{Started: time.Now(), Command: o.Command, Quick: o.Quick, Machine: CollectMachine()}
	for _, st := range steps() {
		if !o.want(st) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("benchmark interrupted: %w", err)
		}
		o.Logger.Info("running", "scenario", st.scenario, "part", st.name)
		t0 := time.Now()
		rs, err := st.run(ctx, &o)
		rep.Add(rs...)
		if err != nil {
			o.Logger.Warn("scenario failed", "scenario", st.scenario, "part", st.name, "err", err)
			rep.Notes = append(rep.Notes, fmt.Sprintf("Scenario %d (%s) failed: %v", st.scenario, st.name, oneLine(err)))
			if len(rs) == 0 {
				rep.Add(Result{Scenario: st.scenario, Path: st.name, Skipped: oneLine(err)})
			}
		}
		o.Logger.Info("done", "scenario", st.scenario, "part", st.name, "rows", len(rs), "took", time.Since(t0).Round(time.Millisecond))
	}
	rep.Machine.LoadEnd = LoadAverage()
	rep.Duration = time.Since(rep.Started)
	rep.ComputeTargets()
	return rep, nil
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// quietHandler passes only records at or above min to the wrapped
// handler: the engines the benchmark drives log one line per session at
// Info, which would drown the progress log.
type quietHandler struct {
	slog.Handler
	min slog.Level
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(a), h.min}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name), h.min}
}

// warnOnly returns a logger that passes warnings and errors of l.
func warnOnly(l *slog.Logger) *slog.Logger {
	return slog.New(quietHandler{l.Handler(), slog.LevelWarn})
}
