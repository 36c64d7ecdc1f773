// Command esphub-lab builds and removes network-namespace topologies described
// by YAML specs (see lab/topologies), for the demo, the end-to-end tests and
// the benchmarks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/esphub/esphub/lab"
)

const usage = `esphub-lab builds lab topologies out of Linux network namespaces.

Usage:
  esphub-lab [flags] up SPEC              create the topology described by SPEC
  esphub-lab [flags] down SPEC            remove it (also after a crash or a failed up)
  esphub-lab [flags] down --prefix P      remove every namespace named P-*
  esphub-lab [flags] status SPEC          show nodes, interfaces, addresses, routes,
                                          impairments and NAT counters
  esphub-lab [flags] exec SPEC NODE CMD [ARG...]
                                          run CMD inside NODE's namespace
  esphub-lab [flags] check SPEC           validate SPEC without creating anything
  esphub-lab [flags] list                 list the labs (namespace prefixes) on this machine

SPEC is a YAML file (lab/topologies/*.yaml are shipped). Every node is a
namespace named PREFIX-NODE (see "ip netns list"); PREFIX comes from the spec's
"prefix:" key unless --prefix overrides it, so one spec can run several times
side by side. Lab addresses come only from 198.18.0.0/15 and 2001:db8::/32.
Needs root, iproute2 and nftables.

Examples:
  esphub-lab up lab/topologies/hub-3spokes-nat.yaml
  esphub-lab exec lab/topologies/hub-3spokes-nat.yaml host2 ping -c3 198.19.0.10
  esphub-lab status lab/topologies/hub-3spokes-nat.yaml
  esphub-lab down lab/topologies/hub-3spokes-nat.yaml

Flags:
`

type cli struct {
	prefix  string
	output  string
	verbose bool
	stdout  io.Writer
	stderr  io.Writer
	// usageOut is stdout when help was asked for, stderr after a mistake.
	usageOut io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.prefix, "prefix", c.prefix, "lab `prefix` for namespace names (default: the spec's prefix, or \"lab\")")
	fs.StringVar(&c.output, "o", c.output, "status output `format`: text or json")
	fs.BoolVar(&c.verbose, "v", c.verbose, "log each step to stderr")
	fs.Usage = func() {
		fs.SetOutput(c.usageOut)
		fmt.Fprint(c.usageOut, usage)
		fs.PrintDefaults()
		fs.SetOutput(c.stderr)
	}
	return fs
}

// run is main without the exit, for tests. It returns the exit status:
// 0 success, 1 failure, 2 usage error; exec returns the command's status.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{output: "text", stdout: stdout, stderr: stderr, usageOut: stderr}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			c.usageOut = stdout
		}
		if a == "exec" {
			break // what follows is the command to run
		}
	}
	fs := c.flags("esphub-lab")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	args = fs.Args()
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	cmd, args := args[0], args[1:]
	if cmd == "help" {
		fs.Usage()
		return 0
	}
	// Flags may also follow the command (but not inside exec's command line).
	sub := c.flags(cmd)
	if err := sub.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	args = sub.Args()
	if c.output != "text" && c.output != "json" {
		fmt.Fprintf(stderr, "esphub-lab: -o must be text or json, not %q\n", c.output)
		return 2
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd {
	case "up":
		err = c.up(ctx, args, log)
	case "down":
		err = c.down(args, log)
	case "status":
		err = c.status(ctx, args, log)
	case "check":
		err = c.check(args)
	case "list":
		err = c.list(args)
	case "exec":
		return c.exec(args, log)
	default:
		fmt.Fprintf(stderr, "esphub-lab: unknown command %q (want up, down, status, exec, check or list; see esphub-lab --help)\n", cmd)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "esphub-lab %s: %v (see esphub-lab --help)\n", cmd, err)
			return 2
		}
		var se *lab.SpecError
		if errors.As(err, &se) {
			// One FILE:LINE: message per line, as compilers print them, so
			// editors can jump to each.
			fmt.Fprintf(stderr, "esphub-lab %s: the spec has %d problem(s):\n%v\n", cmd, len(se.Diags), se)
			return 1
		}
		fmt.Fprintf(stderr, "esphub-lab %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func (c *cli) open(args []string, want string, log *slog.Logger) (*lab.Lab, error) {
	if len(args) == 0 {
		return nil, usageError{"missing SPEC (" + want + ")"}
	}
	spec, err := lab.Load(args[0])
	if err != nil {
		return nil, err
	}
	return lab.Attach(spec, lab.Options{Prefix: c.prefix, Logger: log})
}

func (c *cli) check(args []string) error {
	if len(args) != 1 {
		return usageError{"want exactly one SPEC"}
	}
	spec, err := lab.Load(args[0])
	if err != nil {
		return err
	}
	links := len(spec.Links)
	fmt.Fprintf(c.stdout, "%s: ok, %d nodes, %d links\n", args[0], len(spec.Nodes), links)
	return nil
}

func (c *cli) up(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) != 1 {
		return usageError{"want exactly one SPEC"}
	}
	spec, err := lab.Load(args[0])
	if err != nil {
		return err
	}
	start := time.Now()
	l, err := lab.Up(ctx, spec, lab.Options{Prefix: c.prefix, Logger: log})
	if err != nil {
		return err
	}
	p := args[0]
	if c.prefix != "" {
		p = "--prefix " + c.prefix + " " + p
	}
	fmt.Fprintf(c.stdout, "lab %s up: %d nodes, %d links in %s (namespaces %s-*)\n",
		l.Prefix(), len(spec.Nodes), len(spec.Links), time.Since(start).Round(time.Millisecond), l.Prefix())
	fmt.Fprintf(c.stdout, "  esphub-lab status %s\n  esphub-lab exec %s NODE CMD...\n  esphub-lab down %s\n", p, p, p)
	return nil
}

func (c *cli) down(args []string, log *slog.Logger) error {
	prefix := c.prefix
	switch {
	case len(args) == 1:
		l, err := c.open(args, "or --prefix P", log)
		if err != nil {
			return err
		}
		prefix = l.Prefix()
	case len(args) == 0 && prefix != "":
		if err := lab.CheckPrefix(prefix); err != nil {
			return err
		}
	default:
		return usageError{"want SPEC or --prefix P"}
	}
	names, err := lab.Namespaces(prefix)
	if err != nil {
		return err
	}
	if err := lab.DownPrefix(prefix); err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintf(c.stdout, "lab %s was not up; nothing to remove\n", prefix)
		return nil
	}
	fmt.Fprintf(c.stdout, "lab %s down: removed %d namespaces\n", prefix, len(names))
	return nil
}

func (c *cli) status(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) != 1 {
		return usageError{"want exactly one SPEC"}
	}
	l, err := c.open(args, "", log)
	if err != nil {
		return err
	}
	st, err := l.Status(ctx)
	if err != nil {
		return err
	}
	if c.output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return st.WriteText(c.stdout)
}

// exec replaces this process with "ip netns exec NS CMD...", so the command
// keeps the terminal, gets signals directly and its exit status is ours.
func (c *cli) exec(args []string, log *slog.Logger) int {
	if len(args) < 3 {
		fmt.Fprintln(c.stderr, "esphub-lab exec: want SPEC NODE CMD [ARG...] (see esphub-lab --help)")
		return 2
	}
	l, err := c.open(args, "", log)
	if err != nil {
		fmt.Fprintf(c.stderr, "esphub-lab exec: %v\n", err)
		return 1
	}
	node := args[1]
	if l.Spec().Node(node) == nil {
		var names []string
		for _, n := range l.Spec().Nodes {
			names = append(names, n.Name)
		}
		fmt.Fprintf(c.stderr, "esphub-lab exec: no node %q in %s (nodes: %s)\n", node, args[0], strings.Join(names, ", "))
		return 1
	}
	for _, m := range l.Missing() {
		if m == node {
			fmt.Fprintf(c.stderr, "esphub-lab exec: lab %s is not up (no namespace %s); run esphub-lab up %s\n", l.Prefix(), l.Netns(node), args[0])
			return 1
		}
	}
	cmd := l.Command(context.Background(), node, args[2:]...)
	if cmd.Err != nil {
		fmt.Fprintf(c.stderr, "esphub-lab exec: %v\n", cmd.Err)
		return 1
	}
	path, err := exec.LookPath(cmd.Path)
	if err != nil {
		fmt.Fprintf(c.stderr, "esphub-lab exec: %v (install iproute2)\n", err)
		return 1
	}
	err = syscall.Exec(path, cmd.Args, os.Environ())
	fmt.Fprintf(c.stderr, "esphub-lab exec: %v\n", err)
	return 1
}

func (c *cli) list(args []string) error {
	if len(args) != 0 {
		return usageError{"list takes no arguments"}
	}
	labs, err := lab.Labs()
	if err != nil {
		return err
	}
	if c.output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(labs)
	}
	if len(labs) == 0 {
		fmt.Fprintln(c.stdout, "no labs are up")
		return nil
	}
	prefixes := make([]string, 0, len(labs))
	for p := range labs {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tNODES\tNAMESPACES")
	for _, p := range prefixes {
		names := labs[p]
		nodes := make([]string, len(names))
		for i, n := range names {
			nodes[i] = strings.TrimPrefix(n, p+"-")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s-{%s}\n", p, len(names), p, strings.Join(nodes, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "remove one with: esphub-lab down --prefix PREFIX")
	return nil
}
