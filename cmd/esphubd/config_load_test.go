package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/config"
)

const fullCfg = `hostname hub
crypto ikev2 keyring spokes
 peer s1
  address 198.18.1.2
  pre-shared-key 0 key-one
 peer s2
  address 198.18.2.2
  pre-shared-key 0 key-two
end
`

// A file caught half-written that still parses (here: the keyring cut
// after its first peer) is not applied: the second read differs, and the
// reader waits until two reads agree.
func TestReloadWaitsForAHalfWrittenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.cfg")
	half := fullCfg[:strings.Index(fullCfg, " peer s2")]
	if _, diags := config.Parse(path, []byte(half)); diags.HasErrors() {
		t.Fatalf("the half file should parse on its own: %v", diags.Errors())
	}
	if err := os.WriteFile(path, []byte(half), 0o644); err != nil {
		t.Fatal(err)
	}
	sleeps := 0
	sleep := func(time.Duration) {
		sleeps++
		if sleeps == 1 { // the writer finishes between the first two reads
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = f.WriteString(fullCfg[len(half):])
			f.Close()
		}
	}
	cfg, info, err := loadConfigWith(path, time.Millisecond, 5, sleep)
	if err != nil {
		t.Fatal(err)
	}
	if kr := cfg.Keyring("spokes"); kr == nil || len(kr.Peers) != 2 {
		t.Fatalf("applied keyring %+v, want both peers", kr)
	}
	if sleeps != 2 {
		t.Errorf("%d reads after the first, want 2 (one differing, one agreeing)", sleeps)
	}
	if info.Lines != strings.Count(fullCfg, "\n") || info.Bytes != len(fullCfg) || len(info.SHA256) != 64 {
		t.Errorf("info %+v, want %d lines, %d bytes and a SHA-256", info, strings.Count(fullCfg, "\n"), len(fullCfg))
	}
}

// A file that never settles is refused with advice, not applied.
func TestReloadRefusesAFileThatKeepsChanging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.cfg")
	if err := os.WriteFile(path, []byte(fullCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	sleep := func(time.Duration) {
		n++
		if err := os.WriteFile(path, []byte(fullCfg+strings.Repeat("!\n", n)), 0o644); err != nil {
			t.Error(err)
		}
	}
	_, _, err := loadConfigWith(path, time.Millisecond, 4, sleep)
	if err == nil || !strings.Contains(err.Error(), "kept changing") || !strings.Contains(err.Error(), "rename it into place") {
		t.Fatalf("err %v, want a refusal that recommends write+rename", err)
	}
}

// A reload of a broken file names FILE:LINE:COL and never reaches the
// daemon, whose running configuration stays; a good one reports what it
// applied.
func TestReloaderKeepsRunningConfigOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.cfg")
	applied := 0
	r := &reloader{path: path, log: slog.New(slog.DiscardHandler), apply: func(*config.Config) []string {
		applied++
		return []string{"keyring spokes changed"}
	}, load: func(p string) (*config.Config, configInfo, error) {
		return loadConfigWith(p, time.Millisecond, 3, func(time.Duration) {})
	}}
	for _, bad := range []struct{ text, where string }{
		{"hostname hub\ninterface Tunnel0\n tunnel mode bogus\n", path + ":3:"},
		{"\n \n", path + ":1:1: error: the configuration file is empty"},
	} {
		if err := os.WriteFile(path, []byte(bad.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := r.reload()
		if err == nil || !strings.Contains(err.Error(), "the running one is kept") || !strings.Contains(err.Error(), bad.where) {
			t.Errorf("bad reload error %v, want %q and that the running configuration is kept", err, bad.where)
		}
	}
	if applied != 0 {
		t.Fatalf("a refused configuration was applied %d times", applied)
	}
	if err := os.WriteFile(path, []byte(fullCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.reload()
	if err != nil || applied != 1 {
		t.Fatalf("good reload: %v (applied %d)", err, applied)
	}
	if res.File != path || res.Lines != 9 || res.Bytes != len(fullCfg) || len(res.SHA256) != 64 || len(res.Changes) != 1 {
		t.Errorf("result %+v", res)
	}
}
