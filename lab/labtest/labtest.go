// Package labtest brings lab topologies up for tests.
//
// A test calls Up with a spec path or an inline YAML spec; it gets a running
// lab with a unique short prefix (so parallel tests and packages never
// collide) that is removed in t.Cleanup. Tests that use it need root: without
// root they skip, and under CI=true they fail (internal/testenv). In -short
// mode (make test-unit) they skip.
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

// Prefix returns a lab prefix unique among concurrently running processes
// and calls: "t", the pid in base 36 padded to 5 digits (Linux pids stay
// below 36^5), and a per-process sequence number in base 36. The fixed width
// keeps pid 1 call 37 ("t00001" "11") apart from pid 37 call 1.
func Prefix() string {
	n := seq.Add(1)
	p := fmt.Sprintf("t%05s%s", itoa36(uint64(os.Getpid())), itoa36(uint64(n)))
	if len(p) > lab.MaxPrefixLen {
		panic("labtest: more than 36^4 labs in one process")
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
	testenv.Short(t)
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
	testenv.Short(t)
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
