package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one node of the esphubctl command tree. A node either has
// sub-commands or runs; `show`, `clear` and `reload` will be siblings of
// `config` and talk to the daemon.
type command struct {
	name    string
	summary string
	usage   string // arguments after the command path
	run     func(e *env, args []string) int
	subs    []*command
}

// env is what a command may touch: its output streams and the parsed
// common options.
type env struct {
	stdout, stderr io.Writer
	output         string // "text" or "json"
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command ran and found a problem (invalid configuration)
	exitUsage = 2 // the command line is wrong
)

func root() *command {
	return &command{
		name:    "esphubctl",
		summary: "control and inspect esphub",
		subs: []*command{
			{
				name:    "config",
				summary: "work with IOS-style configuration files (offline, no daemon needed)",
				subs: []*command{
					{name: "check", summary: "validate configuration files", usage: "FILE...", run: configCheck},
					{name: "diff", summary: "list the objects a reload from OLD to NEW would change", usage: "OLD NEW", run: configDiff},
					{name: "show", summary: "print the normalised configuration or one object as IOS show does",
						usage: "FILE [--defaults] [crypto ikev2 proposal|policy|profile|keyring|authorization policy [NAME]] [crypto ipsec profile|transform-set [NAME]]",
						run:   configShow},
				},
			},
			pkiCommand(),
		},
	}
}

// run executes the command line and returns the exit status. Common options
// (-o/--output text|json, -h/--help) may appear anywhere.
func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, output: "text"}
	var rest []string
	help := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output" || a == "-output":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "esphubctl: %s needs a value (text or json)\n", a)
				return exitUsage
			}
			e.output = args[i+1]
			i++
		case strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--output="):
			e.output = a[strings.IndexByte(a, '=')+1:]
		case a == "-h" || a == "--help" || a == "help":
			help = true
		default:
			rest = append(rest, a)
		}
	}
	if e.output != "text" && e.output != "json" {
		fmt.Fprintf(stderr, "esphubctl: unknown output format %q (text or json)\n", e.output)
		return exitUsage
	}
	cmd, path, args := root(), []string{"esphubctl"}, rest
	for cmd.run == nil {
		if len(args) == 0 {
			printHelp(stdoutOr(help, stdout, stderr), cmd, path)
			if help {
				return exitOK
			}
			return exitUsage
		}
		next := findSub(cmd, args[0])
		if next == nil {
			fmt.Fprintf(stderr, "esphubctl: unknown command %q after %q\n", args[0], strings.Join(path, " "))
			printHelp(stderr, cmd, path)
			return exitUsage
		}
		cmd, path, args = next, append(path, next.name), args[1:]
	}
	if help {
		printHelp(stdout, cmd, path)
		return exitOK
	}
	return cmd.run(e, args)
}

func stdoutOr(help bool, stdout, stderr io.Writer) io.Writer {
	if help {
		return stdout
	}
	return stderr
}

// findSub matches a sub-command by name or unambiguous prefix, as IOS does
// (`esphubctl conf sh`).
func findSub(c *command, word string) *command {
	var found *command
	for _, s := range c.subs {
		if s.name == word {
			return s
		}
		if strings.HasPrefix(s.name, word) {
			if found != nil {
				return nil
			}
			found = s
		}
	}
	return found
}

func printHelp(w io.Writer, c *command, path []string) {
	p := strings.Join(path, " ")
	if c.run != nil {
		fmt.Fprintf(w, "usage: %s %s [-o text|json]\n\n%s\n", p, c.usage, c.summary)
		return
	}
	fmt.Fprintf(w, "usage: %s COMMAND ...\n\n%s\n\ncommands:\n", p, c.summary)
	subs := append([]*command(nil), c.subs...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
	for _, s := range subs {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\noptions: -o text|json (output format), -h (help)\n")
}
