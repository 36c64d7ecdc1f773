// Package labtest brings lab topologies up for tests.
//
// A test calls Up with a spec path or an inline YAML spec; it gets a running
// lab with a unique short prefix (so parallel tests and packages never
// collide) that is removed in t.Cleanup. Tests that use it need root: without
// root they skip, and under CI=true they fail (internal/testenv).
package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
)

var seq atomic.Uint32

// Prefix returns a lab prefix unique to this process and call: "t" followed
// by the pid and a sequence number in base 36, short enough for the namespace
// and interface limits.
func Prefix() string {
	n := seq.Add(1)
	p := fmt.Sprintf("t%s%s", itoa36(uint64(os.Getpid())), itoa36(uint64(n)))
	if len(p) > lab.MaxPrefixLen {
		p = p[:lab.MaxPrefixLen]
	}
	return p
}

func itoa36(v uint64) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{digits[v%36]}, b...)
		v /= 36
	}
	return string(b)
}

// Up brings up the topology given by spec (a file path, relative paths taken
// from the test's package directory, or inline YAML) under a unique prefix,
// and registers its removal with t.Cleanup. It fails the test on any error.
func Up(t testing.TB, spec string) *lab.Lab {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "nft")
	s, err := lab.LoadOrInline(spec)
	if err != nil {
		t.Fatalf("lab spec: %v", err)
	}
	return UpSpec(t, s)
}

// UpSpec is Up for a parsed spec.
func UpSpec(t testing.TB, s *lab.Spec) *lab.Lab {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "nft")
	prefix := Prefix()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, s, lab.Options{Prefix: prefix})
	t.Cleanup(func() {
		if err := lab.DownPrefix(prefix); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return l
}

// Topology returns the path of a shipped topology (lab/topologies/NAME.yaml),
// found relative to this source file so that any package's test can use it.
func Topology(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "topologies", name+".yaml")
}
