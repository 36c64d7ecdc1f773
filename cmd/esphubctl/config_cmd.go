package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/esphub/esphub/config"
)

// checkResult is the JSON form of one file's check.
type checkResult struct {
	File        string              `json:"file"`
	Valid       bool                `json:"valid"`
	Errors      int                 `json:"errors"`
	Warnings    int                 `json:"warnings"`
	Diagnostics []config.Diagnostic `json:"diagnostics"`
}

// configCheck validates each file, printing FILE:LINE:COL diagnostics.
// It exits 1 when any file has an error or cannot be read.
func configCheck(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "usage: esphubctl config check FILE...\n")
		return exitUsage
	}
	status := exitOK
	var results []checkResult
	for _, f := range args {
		if strings.HasPrefix(f, "-") && f != "-" {
			fmt.Fprintf(e.stderr, "esphubctl config check: unknown option %s\n", f)
			return exitUsage
		}
		src, err := readInput(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "esphubctl: %v\n", err)
			status = exitError
			continue
		}
		_, diags := config.Parse(f, src)
		r := checkResult{File: f, Valid: !diags.HasErrors(), Errors: len(diags.Errors()), Warnings: len(diags.Warnings()), Diagnostics: diags}
		if r.Diagnostics == nil {
			r.Diagnostics = config.Diagnostics{}
		}
		results = append(results, r)
		if !r.Valid {
			status = exitError
		}
		if e.output == "text" {
			for _, d := range diags {
				fmt.Fprintln(e.stdout, d)
			}
		}
	}
	if e.output == "json" {
		writeJSON(e, results)
		return status
	}
	for _, r := range results {
		verdict := "ok"
		if !r.Valid {
			verdict = "invalid"
		}
		fmt.Fprintf(e.stderr, "%s: %s (%d errors, %d warnings)\n", r.File, verdict, r.Errors, r.Warnings)
	}
	return status
}

func readInput(f string) ([]byte, error) {
	if f == "-" {
		return readAll(os.Stdin)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return b, nil
}

func readAll(f *os.File) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return buf.Bytes(), nil
}

func writeJSON(e *env, v any) {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(e.stderr, "esphubctl: encode json: %v\n", err)
	}
}

// configShow prints the normalised configuration, or one object the way the
// IOS show command for it does.
func configShow(e *env, args []string) int {
	defaults := false
	var words []string
	for _, a := range args {
		switch a {
		case "--defaults", "-defaults", "-a", "--all":
			defaults = true
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(e.stderr, "esphubctl config show: unknown option %s\n", a)
				return exitUsage
			}
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		fmt.Fprintf(e.stderr, "usage: esphubctl config show FILE [--defaults] [crypto ...]\n")
		return exitUsage
	}
	file, what := words[0], words[1:]
	src, err := readInput(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "esphubctl: %v\n", err)
		return exitError
	}
	cfg, diags := config.Parse(file, src)
	if diags.HasErrors() {
		for _, d := range diags.Errors() {
			fmt.Fprintln(e.stderr, d)
		}
		fmt.Fprintf(e.stderr, "%s: invalid configuration; run esphubctl config check %s\n", file, file)
		return exitError
	}
	if len(what) == 0 {
		if e.output == "json" {
			writeJSON(e, cfg)
			return exitOK
		}
		fmt.Fprint(e.stdout, cfg.RunningConfig(defaults))
		return exitOK
	}
	return showObject(e, cfg, what)
}

// objectKind is one `crypto ...` object family esphubctl can show.
type objectKind struct {
	words []string
	list  func(c *config.Config) []any
	name  func(o any) string
	show  func(e *env, c *config.Config, o any)
}

var objectKinds = []objectKind{
	{words: []string{"crypto", "ikev2", "proposal"},
		list: func(c *config.Config) []any { return anys(c.Proposals) },
		name: func(o any) string { return o.(*config.Proposal).Name },
		show: func(e *env, c *config.Config, o any) { config.ShowProposal(e.stdout, o.(*config.Proposal)) }},
	{words: []string{"crypto", "ikev2", "policy"},
		list: func(c *config.Config) []any { return anys(c.Policies) },
		name: func(o any) string { return o.(*config.Policy).Name },
		show: func(e *env, c *config.Config, o any) { config.ShowPolicy(e.stdout, o.(*config.Policy)) }},
	{words: []string{"crypto", "ikev2", "profile"},
		list: func(c *config.Config) []any { return anys(c.Profiles) },
		name: func(o any) string { return o.(*config.Profile).Name },
		show: func(e *env, c *config.Config, o any) { config.ShowProfile(e.stdout, o.(*config.Profile)) }},
	{words: []string{"crypto", "ikev2", "keyring"},
		list: func(c *config.Config) []any { return anys(c.Keyrings) },
		name: func(o any) string { return o.(*config.Keyring).Name },
		show: func(e *env, c *config.Config, o any) { config.ShowKeyring(e.stdout, o.(*config.Keyring)) }},
	{words: []string{"crypto", "ikev2", "authorization", "policy"},
		list: func(c *config.Config) []any { return anys(c.AuthzPolicies) },
		name: func(o any) string { return o.(*config.AuthorizationPolicy).Name },
		show: func(e *env, c *config.Config, o any) {
			config.ShowAuthzPolicy(e.stdout, o.(*config.AuthorizationPolicy))
		}},
	{words: []string{"crypto", "ipsec", "profile"},
		list: func(c *config.Config) []any { return anys(c.IPsecProfiles) },
		name: func(o any) string { return o.(*config.IPsecProfile).Name },
		show: func(e *env, c *config.Config, o any) { config.ShowIPsecProfile(e.stdout, c, o.(*config.IPsecProfile)) }},
	{words: []string{"crypto", "ipsec", "transform-set"},
		list: func(c *config.Config) []any { return anys(c.TransformSets) },
		name: func(o any) string { return o.(*config.TransformSet).Name },
		show: func(e *env, c *config.Config, o any) { config.ShowTransformSet(e.stdout, o.(*config.TransformSet)) }},
}

func anys[T any](xs []*T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func showObject(e *env, cfg *config.Config, what []string) int {
	for _, k := range objectKinds {
		if len(what) < len(k.words) || len(what) > len(k.words)+1 {
			continue
		}
		match := true
		for i, w := range k.words {
			if !strings.EqualFold(what[i], w) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		objs := k.list(cfg)
		if len(what) == len(k.words)+1 {
			name := what[len(k.words)]
			if name == "defaults" {
				name = "default" // [B] spelling (D-14)
			}
			var found any
			for _, o := range objs {
				if k.name(o) == name {
					found = o
				}
			}
			if found == nil {
				fmt.Fprintf(e.stderr, "esphubctl: %s %q is not configured\n", strings.Join(k.words, " "), name)
				return exitError
			}
			objs = []any{found}
		}
		if e.output == "json" {
			writeJSON(e, objs)
			return exitOK
		}
		for _, o := range objs {
			k.show(e, cfg, o)
			fmt.Fprintln(e.stdout)
		}
		return exitOK
	}
	var kinds []string
	for _, k := range objectKinds {
		kinds = append(kinds, strings.Join(k.words, " "))
	}
	fmt.Fprintf(e.stderr, "esphubctl config show: unknown object %q; one of: %s\n", strings.Join(what, " "), strings.Join(kinds, ", "))
	return exitUsage
}

// configDiff prints the objects that differ between two configurations,
// one per line ("modified crypto ikev2 profile spokes"), and exits 0 even
// when they differ: the difference is the answer, not a failure.
func configDiff(e *env, args []string) int {
	if len(args) != 2 {
		fmt.Fprintf(e.stderr, "usage: esphubctl config diff OLD NEW\n")
		return exitUsage
	}
	var cfgs [2]*config.Config
	for i, f := range args {
		src, err := readInput(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "esphubctl: %v\n", err)
			return exitError
		}
		cfg, diags := config.Parse(f, src)
		if diags.HasErrors() {
			for _, d := range diags.Errors() {
				fmt.Fprintln(e.stderr, d)
			}
			return exitError
		}
		cfgs[i] = cfg
	}
	changes := config.Diff(cfgs[0], cfgs[1])
	if e.output == "json" {
		if changes == nil {
			changes = []config.Change{}
		}
		writeJSON(e, changes)
		return exitOK
	}
	for _, c := range changes {
		if c.Name != "" {
			fmt.Fprintf(e.stdout, "%-8s %s %s\n", c.Op, c.Kind, c.Name)
		} else {
			fmt.Fprintf(e.stdout, "%-8s %s\n", c.Op, c.Kind)
		}
	}
	if len(changes) == 0 {
		fmt.Fprintf(e.stderr, "no changes\n")
	}
	return exitOK
}
