//go:build !linux

package lab

import (
	"context"
	"fmt"
	"os/exec"
)

// ErrNotSupported is returned on systems without Linux network namespaces.

// Up needs Linux.
func Up(ctx context.Context, spec *Spec, opts Options) (*Lab, error) { return nil, ErrNotSupported }

// DownPrefix needs Linux.
func DownPrefix(prefix string) error { return ErrNotSupported }

// Namespaces needs Linux.
func Namespaces(prefix string) ([]string, error) { return nil, ErrNotSupported }

// Down needs Linux.
func (l *Lab) Down() error { return ErrNotSupported }

// Missing reports every node as missing.
func (l *Lab) Missing() []string {
	var out []string
	for _, n := range l.spec.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// Command returns a command whose Start fails.
func (l *Lab) Command(ctx context.Context, node string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "false")
	cmd.Err = ErrNotSupported
	return cmd
}

// Exec needs Linux.
func (l *Lab) Exec(ctx context.Context, node string, argv ...string) ([]byte, error) {
	return nil, ErrNotSupported
}

// Do needs Linux.
func (l *Lab) Do(node string, fn func() error) error { return ErrNotSupported }

// Status needs Linux.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	return nil, fmt.Errorf("status: %w", ErrNotSupported)
}

// Labs needs Linux.
func Labs() (map[string][]string, error) { return nil, ErrNotSupported }
