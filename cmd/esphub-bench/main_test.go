package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esphub/esphub/bench"
	"github.com/esphub/esphub/dataplane/esp"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-scenarios", "1,x"}, 2, "not a positive number"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-h"}, 0, "Scenarios (issue 9)"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: code %d, stderr %q", tc.args, code, errb.String())
		}
	}
}

// TestList checks that -list names every part, hairpins with 2 workers
// included, by scenario.
func TestList(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"1  crypto ceiling\n", "3  engine in process\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-list lacks %q:\n%s", want, out.String())
		}
	}
}

// TestParts runs one part of scenario 1 by name: the crypto ceiling, and
// nothing else of the scenarios asked for.
func TestParts(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"-scenarios", "1,3", "-parts", "CRYPTO", "-sizes", "64", "-runs", "1", "-duration", "20ms", "-out", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "| aes-gcm seal | 64 |") || strings.Contains(out.String(), "| engine encrypt (no I/O) |") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestScenarioOne runs the in-process crypto scenario only (no root
// needed) and checks the files it writes.
func TestScenarioOne(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"-scenarios", "1", "-sizes", "64", "-runs", "1", "-duration", "20ms", "-out", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "| aes-gcm seal | 64 |") {
		t.Errorf("report lacks the seal row:\n%s", out.String())
	}
	js, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(js) != 1 {
		t.Fatalf("json files %v", js)
	}
	b, err := os.ReadFile(js[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	want := 2 // seal, open
	if esp.GCMImplementation() != esp.ImplStdlib {
		want = 4 // and crypto/cipher's seal and open as the reference
	}
	if len(rep.Results) != want || rep.Results[0].PPS.Median <= 0 || rep.Results[0].Path != bench.PathGCMSeal {
		t.Errorf("results %+v", rep.Results)
	}
}
