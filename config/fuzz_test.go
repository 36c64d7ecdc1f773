package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic and that every accepted
// input survives the render/parse round trip. The corpus is seeded with our
// fixtures, the broken-configuration cases and, when the shared folder is
// present, the complete seed examples.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cfg")
	for _, fn := range files {
		if b, err := os.ReadFile(fn); err == nil {
			f.Add(b)
		}
	}
	for _, bc := range brokenCases {
		f.Add([]byte(bc.src))
	}
	if dir := "/work/shared/seeds"; dirExists(dir) {
		for _, ex := range seedExamples {
			if b, err := seedText(dir, ex); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := Parse("fuzz.cfg", src)
		if diags.HasErrors() != (cfg == nil) {
			t.Fatalf("config is nil=%v but errors=%v", cfg == nil, diags.HasErrors())
		}
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Pos.Col < 1 {
				t.Fatalf("diagnostic without a position: %s", d)
			}
		}
		if cfg == nil {
			return
		}
		checkRoundTrip(t, cfg)
	})
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
