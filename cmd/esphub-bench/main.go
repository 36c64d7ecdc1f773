// Command esphub-bench runs esphub's throughput and scale benchmark on the
// lab (network namespaces on this machine) together with the references a
// user compares it with, and writes a report: bench/results/DATE-HOST.md,
// .json and .png.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/esphub/esphub/bench"
)

const usage = `esphub-bench measures esphub and its references on this machine.

Usage:
  esphub-bench [flags]

Scenarios (issue 9):
  1  crypto ceiling: bare AES-128-GCM seal/open on one core
  2  I/O ceiling: AF_XDP forwarding without crypto (our AF_XDP generator and sink)
  3  esphub encrypt/decrypt: the packet engine in process, and over AF_XDP
  4  iperf3 TCP through esphub
  5  iperf3 TCP through strongSwan kernel-libipsec (the userspace-ESP reference)
  6  IKE handshakes per second (PSK, ECP-256 and MODP-2048) and memory per session
  7  spoke-to-spoke time to shortcut: esphubd on a hub and two spokes, median of ten

Lab scenarios need root, iproute2, ethtool, iperf3, strongSwan, ping and
tcpdump; scenario 7 also needs the esphubd binary and the source tree (lab
topologies, examples). A scenario that cannot run is reported as not
measured, with the reason.

Examples:
  esphub-bench -quick                 smoke test, under a minute
  esphub-bench                        everything: 4 sizes, 3 runs each
  esphub-bench -scenarios 1,3 -sizes 64,1400 -runs 5
  esphub-bench -scenarios 3 -parts hairpin   the hairpin rows only (-list names the parts)
  esphub-bench -readme README.md      copy the newest full report's summary into the README

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("esphub-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		quick     = fs.Bool("quick", false, "smoke test: one size ("+bench.QuickSize+" B), one short run each, small session counts")
		runs      = fs.Int("runs", 0, "runs per row (default 3, 1 with -quick)")
		dur       = fs.Duration("duration", 0, "length of one packet run (default 2s, 300ms with -quick)")
		sizes     = fs.String("sizes", "", "packet sizes, comma-separated: 64,512,1400,imix (default all)")
		scenarios = fs.String("scenarios", "", "scenario numbers to run, comma-separated (default all)")
		parts     = fs.String("parts", "", "run only the parts whose name contains one of these comma-separated strings, e.g. hairpin or esphubd (-list shows them)")
		list      = fs.Bool("list", false, "list the parts of each scenario and exit")
		readme    = fs.String("readme", "", "measure nothing: rewrite the summary table between this file's bench-summary markers (README.md) from the report -from names, and exit")
		from      = fs.String("from", "bench/results", "with -readme or -summary: a report's .json, or a directory whose newest full (not -quick) report is used")
		summary   = fs.Bool("summary", false, "measure nothing: print the summary table of the report -from names, and exit")
		sessions  = fs.String("sessions", "", "session counts for memory per session (default 1000,10000,50000)")
		out       = fs.String("out", "bench/results", "directory for the report files")
		root      = fs.String("root", "", "esphub source tree, for scenario 7's lab topology and configurations (default: found from the working directory)")
		esphubd   = fs.String("esphubd", "", "esphubd binary for scenario 7 (default: beside esphub-bench, then PATH)")
		jsonOut   = fs.Bool("json", false, "also print the JSON report on stdout")
		verbose   = fs.Bool("v", false, "log progress")
		cpuprof   = fs.String("cpuprofile", "", "write a CPU profile of the whole run (hub, load generators, harness) to this file, for go tool pprof")
		memprof   = fs.String("memprofile", "", "scenario 6: write a heap profile at each session count of the memory measurement, to `prefix`-hub-N.pprof (esphubd's hub) and prefix-ike-N.pprof (the IKE engine alone)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *list {
		names := bench.PartNames()
		for n := 1; n <= bench.ScenarioShortcut; n++ {
			for _, name := range names[n] {
				fmt.Fprintf(stdout, "%d  %s\n", n, name)
			}
		}
		return 0
	}
	if *readme != "" || *summary {
		if err := writeSummary(*readme, *from, stdout); err != nil {
			fmt.Fprintf(stderr, "esphub-bench: %v\n", err)
			return 1
		}
		return 0
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "esphub-bench: unexpected argument %q (see -h)\n", fs.Arg(0))
		return 2
	}
	o := bench.Options{Quick: *quick, Runs: *runs, Duration: *dur, Root: *root, Esphubd: *esphubd, Command: "esphub-bench " + strings.Join(args, " "), MemProfile: *memprof}
	if *sizes != "" {
		o.Sizes = strings.Split(*sizes, ",")
	}
	if *parts != "" {
		o.Parts = strings.Split(*parts, ",")
	}
	var err error
	if o.Scenarios, err = ints(*scenarios); err != nil {
		fmt.Fprintf(stderr, "esphub-bench: -scenarios: %v\n", err)
		return 2
	}
	if o.Sessions, err = ints(*sessions); err != nil {
		fmt.Fprintf(stderr, "esphub-bench: -sessions: %v\n", err)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "esphub-bench: -cpuprofile: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "esphub-bench: -cpuprofile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "esphub-bench: %v\n", err)
		if rep == nil {
			return 1
		}
	}
	paths, werr := rep.WriteFiles(*out)
	if werr != nil {
		fmt.Fprintf(stderr, "esphub-bench: %v\n", werr)
		return 1
	}
	if err := rep.WriteMarkdown(stdout, ""); err != nil {
		return 1
	}
	if *jsonOut {
		if err := rep.WriteJSON(stdout); err != nil {
			return 1
		}
	}
	fmt.Fprintf(stderr, "esphub-bench: wrote %s in %s\n", strings.Join(paths, ", "), rep.Duration.Round(time.Second))
	if err != nil {
		return 1
	}
	return 0
}

// writeSummary renders the summary of the report at from (a .json file,
// or the newest full report in a directory) and writes it into readme
// between the summary markers, or to stdout when readme is "".
func writeSummary(readme, from string, stdout io.Writer) error {
	path := from
	var rep *bench.Report
	var err error
	if st, serr := os.Stat(from); serr == nil && st.IsDir() {
		path, rep, err = bench.LatestFullReport(from)
	} else {
		rep, err = bench.ReadReport(from)
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := rep.WriteSummary(&b, strings.TrimSuffix(path, ".json")+".md"); err != nil {
		return err
	}
	if readme == "" {
		_, err := io.WriteString(stdout, b.String())
		return err
	}
	doc, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := bench.ReplaceSummary(doc, []byte(b.String()))
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if err := os.WriteFile(readme, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "esphub-bench: %s now shows the figures of %s\n", readme, path)
	return nil
}

// ints parses a comma-separated list of positive integers.
func ints(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
