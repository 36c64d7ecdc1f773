package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFixturesCoverEveryCommand requires every command esphub implements,
// in every mode, to appear in at least one of our fixtures, so the
// round-trip and fuzz tests exercise the whole grammar.
func TestFixturesCoverEveryCommand(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.cfg")
	seen := map[*cmd]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := parse(f, src, seen); diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags.Err())
		}
	}
	for _, m := range allModes {
		for _, c := range m.cmds {
			if c.unimpl || seen[c] {
				continue
			}
			t.Errorf("no fixture uses %s: %q", m.what, strings.Join(c.words, " "))
		}
	}
}
