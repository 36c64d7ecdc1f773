package labtest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/esphub/esphub/lab"
)

func TestPrefixUniqueAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		p := Prefix()
		if err := lab.CheckPrefix(p); err != nil {
			t.Fatalf("Prefix() = %q: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("Prefix() repeated %q", p)
		}
		seen[p] = true
	}
}

func TestTopologyPaths(t *testing.T) {
	for _, name := range []string{"hub-2spokes", "hub-3spokes-nat"} {
		if _, err := os.Stat(Topology(name)); err != nil {
			t.Errorf("Topology(%q): %v", name, err)
		}
	}
}

func TestUpInlineCleansUp(t *testing.T) {
	var prefix string
	t.Run("up", func(t *testing.T) {
		l := Up(t, `nodes: {a: {}, b: {}}
links: [{a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}]`)
		prefix = l.Prefix()
		if names, _ := lab.Namespaces(prefix); len(names) != 2 {
			t.Fatalf("namespaces %v", names)
		}
		out, err := l.Exec(context.Background(), "a", "ping", "-c", "1", "-W", "5", "198.18.0.2")
		if err != nil {
			t.Fatalf("ping: %v\n%s", err, out)
		}
	})
	if prefix == "" {
		return // skipped: no root or -short
	}
	if names, _ := lab.Namespaces(prefix); len(names) != 0 {
		t.Errorf("t.Cleanup left %s behind", strings.Join(names, ", "))
	}
}
