package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-config is required"},
		{[]string{"-config", "x", "-backend", "dpdk"}, `-backend "dpdk"`},
		{[]string{"-config", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"-config", "x", "-xdp-cpus", "1,x"}, `-xdp-cpus "1,x": bad CPU "x"`},
		{[]string{"-config", "x", "-xdp-cpus", "3-1"}, `bad range "3-1"`},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-h"}, &stderr); code != 0 || !strings.Contains(stderr.String(), "-log-format") {
		t.Errorf("-h: exit %d, %q", code, stderr.String())
	}
}

// A configuration error at start exits non-zero with one line that says
// where: FILE:LINE:COL.
func TestConfigErrorAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.cfg")
	if err := os.WriteFile(cfg, []byte("hostname x\ninterface Tunnel0\n tunnel mode bogus\n crypto nonsense\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run([]string{"-config", cfg, "-api", filepath.Join(dir, "s.sock")}, &stderr)
	if code == 0 {
		t.Fatal("esphubd started with a broken configuration")
	}
	out := strings.TrimSuffix(stderr.String(), "\n")
	if strings.Contains(out, "\n") || !strings.HasPrefix(out, "esphubd: "+cfg+":3:") || !strings.Contains(out, "more error") {
		t.Errorf("stderr %q, want one line esphubd: %s:3:COL: ... (and N more errors ...)", out, cfg)
	}
	empty := filepath.Join(dir, "empty.cfg")
	if err := os.WriteFile(empty, []byte("\n  \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr3 bytes.Buffer
	if code := run([]string{"-config", empty}, &stderr3); code == 0 || !strings.Contains(stderr3.String(), empty+":1:1: error: the configuration file is empty") {
		t.Errorf("empty file: exit %d, %q", code, stderr3.String())
	}
	var stderr2 bytes.Buffer
	if code := run([]string{"-config", filepath.Join(dir, "missing.cfg")}, &stderr2); code == 0 || !strings.Contains(stderr2.String(), "missing.cfg") {
		t.Errorf("missing file: exit %d, %q", code, stderr2.String())
	}
}

func TestParseCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{{"", nil}, {"1", []int{1}}, {"0,2-4", []int{0, 2, 3, 4}}, {" 5 , 7", []int{5, 7}}} {
		got, err := parseCPUs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseCPUs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	o, err := parseFlags([]string{"-config", "x", "-backend", "af_xdp"}, io.Discard)
	if err != nil || o.backend != "afxdp" {
		t.Errorf("-backend af_xdp: %+v, %v; want afxdp", o, err)
	}
}
