package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRoundTrip asserts parse(render(cfg)) == cfg and that rendering is a
// fixed point.
func checkRoundTrip(t *testing.T, cfg *Config) {
	t.Helper()
	text := cfg.RunningConfig(false)
	again, diags := Parse("rendered", []byte(text))
	if diags.HasErrors() {
		t.Fatalf("rendered configuration does not parse:\n%s\n%s", diags.Err(), numbered(text))
	}
	if !Equal(cfg, again) {
		t.Fatalf("parse(render(m)) != m\nrendered:\n%s\nre-rendered:\n%s", text, again.RunningConfig(false))
	}
	if text2 := again.RunningConfig(false); text2 != text {
		t.Fatalf("render is not a fixed point:\n%s\n---\n%s", text, text2)
	}
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		b.WriteString(fmt.Sprintf("%4d  %s\n", i+1, l))
	}
	return b.String()
}

// TestFixturesRoundTrip parses every testdata/*.cfg fixture (each must be
// error-free) and checks the render/parse round trip.
func TestFixturesRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.cfg")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags := Parse(f, src)
			for _, d := range diags {
				if d.Severity == SeverityError {
					t.Errorf("%s", d)
				}
			}
			if cfg == nil {
				t.FailNow()
			}
			checkRoundTrip(t, cfg)
		})
	}
}
