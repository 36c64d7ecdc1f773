package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control"
	"github.com/esphub/esphub/internal/logging"
)

// Reading the configuration while something rewrites it in place (an
// editor saving, `cat > file`, a configuration manager writing in several
// chunks) can catch a truncated file that still parses: a hub that read
// half its keyring would drop the other half's spokes. The file is
// therefore read until two reads settleWindow apart agree on size,
// modification time and content. Writing the new file beside the old one
// and renaming it into place (atomic on one file system) is still the
// recommended way to change it: a writer that pauses longer than the
// window between chunks cannot be told from a finished one.
const (
	settleWindow = 100 * time.Millisecond
	settleReads  = 20 // at most ~2 s of a file that keeps changing
)

// fileSnap is one read of the configuration file.
type fileSnap struct {
	size  int64
	mtime time.Time
	sum   [sha256.Size]byte
	data  []byte
}

func (a fileSnap) same(b fileSnap) bool {
	return a.size == b.size && a.mtime.Equal(b.mtime) && a.sum == b.sum
}

func snapFile(path string) (fileSnap, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSnap{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileSnap{}, err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return fileSnap{}, err
	}
	return fileSnap{size: st.Size(), mtime: st.ModTime(), sum: sha256.Sum256(buf.Bytes()), data: buf.Bytes()}, nil
}

// readSettled returns the file's content once two consecutive reads,
// window apart, agree on its size, modification time and SHA-256; after
// reads attempts that all differed from the one before it gives up with an
// error that says to write the file atomically. sleep waits between reads
// (time.Sleep; tests change the file from it).
func readSettled(path string, window time.Duration, reads int, sleep func(time.Duration)) (fileSnap, error) {
	prev, err := snapFile(path)
	if err != nil {
		return fileSnap{}, err
	}
	for range reads {
		sleep(window)
		cur, err := snapFile(path)
		if err != nil {
			return fileSnap{}, err
		}
		if cur.same(prev) {
			// A size that disagrees with what was read means the file
			// changed while it was being read, whatever the time stamps say.
			if int64(len(cur.data)) == cur.size {
				return cur, nil
			}
		}
		prev = cur
	}
	return fileSnap{}, fmt.Errorf("%s: the file kept changing over %d reads %v apart; write the new configuration to a temporary file and rename it into place", path, reads+1, window)
}

// configInfo identifies the configuration text that was applied.
type configInfo struct {
	Path   string `json:"file"`
	SHA256 string `json:"sha256"`
	Lines  int    `json:"lines"`
	Bytes  int    `json:"bytes"`
}

func (ci configInfo) String() string {
	return fmt.Sprintf("%s (%d lines, %d bytes, sha256 %s)", ci.Path, ci.Lines, ci.Bytes, ci.SHA256)
}

// loadConfig reads the configuration once it has settled (readSettled) and
// parses it. On errors it returns one line: the first error as
// FILE:LINE:COL: message, and how many more there are (esphubctl config
// check lists them all).
func loadConfig(path string) (*config.Config, configInfo, error) {
	return loadConfigWith(path, settleWindow, settleReads, time.Sleep)
}

func loadConfigWith(path string, window time.Duration, reads int, sleep func(time.Duration)) (*config.Config, configInfo, error) {
	snap, err := readSettled(path, window, reads, sleep)
	if err != nil {
		return nil, configInfo{}, fmt.Errorf("read configuration: %w", err)
	}
	src := snap.data
	if len(bytes.TrimSpace(src)) == 0 {
		// Most likely caught in the middle of being rewritten; applying it
		// would tear down every session.
		return nil, configInfo{}, fmt.Errorf("%s:1:1: error: the configuration file is empty", path)
	}
	cfg, diags := config.Parse(path, src)
	if diags.HasErrors() {
		errs := diags.Errors()
		msg := errs[0].String()
		if len(errs) > 1 {
			msg += fmt.Sprintf(" (and %d more errors; run: esphubctl config check %s)", len(errs)-1, path)
		}
		return nil, configInfo{}, errors.New(msg)
	}
	lines := bytes.Count(src, []byte("\n"))
	if src[len(src)-1] != '\n' {
		lines++
	}
	return cfg, configInfo{Path: path, SHA256: hex.EncodeToString(snap.sum[:]), Lines: lines, Bytes: len(src)}, nil
}

// reloader re-reads and applies the configuration for SIGHUP and
// `esphubctl reload`, one reload at a time.
type reloader struct {
	path  string
	apply func(*config.Config) []string // control.Daemon.Reload
	log   *slog.Logger
	load  func(string) (*config.Config, configInfo, error)
	mu    sync.Mutex
}

// reload loads the file and applies it; a configuration that cannot be
// read or has errors is refused and the running one kept.
func (r *reloader) reload() (control.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	load := r.load
	if load == nil {
		load = loadConfig
	}
	nc, info, err := load(r.path)
	if err != nil {
		logging.Event(context.Background(), r.log, "CONFIG", logging.Error, "RELOAD_FAILED", "configuration refused, keeping the running one", "err", err.Error())
		return control.ReloadResult{}, fmt.Errorf("configuration refused, the running one is kept: %w", err)
	}
	changes := r.apply(nc)
	logging.Event(context.Background(), r.log, "CONFIG", logging.Notification, "RELOADED",
		fmt.Sprintf("configuration reloaded from %v, %d change(s)", info, len(changes)))
	return control.ReloadResult{File: info.Path, SHA256: info.SHA256, Lines: info.Lines, Bytes: info.Bytes, Changes: changes}, nil
}
