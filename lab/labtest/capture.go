package labtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
)

// Capture is a tcpdump running inside a lab node, writing a pcap file for
// tshark or for golden-packet tests. Stop it with Stop; t.Cleanup stops it
// too. Stop is safe to call more than once.
type Capture struct {
	// Path is the pcap file, inside the test's temporary directory.
	Path string

	t      testing.TB
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	stderr *strings.Builder
	mu     sync.Mutex
}

// StartCapture starts tcpdump on node's interface iface ("any" for all of
// them) with an optional pcap filter, and returns once tcpdump is capturing,
// so that traffic sent afterwards is in the file.
func StartCapture(t testing.TB, l *lab.Lab, node, iface, filter string) *Capture {
	t.Helper()
	testenv.NeedCommands(t, "tcpdump")
	c := &Capture{
		Path:   filepath.Join(t.TempDir(), fmt.Sprintf("%s-%s.pcap", node, iface)),
		t:      t,
		done:   make(chan error, 1),
		stderr: &strings.Builder{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	// --immediate-mode hands packets over as they arrive instead of when a
	// ring block fills or times out (a second), and -U writes each one out,
	// so the file is current while traffic flows; -Z root keeps tcpdump
	// from switching to a user that cannot write the test's directory.
	argv := []string{"tcpdump", "-n", "--immediate-mode", "-U", "-Z", "root", "-i", iface, "-w", c.Path}
	if filter != "" {
		argv = append(argv, filter)
	}
	cmd := l.Command(ctx, node, argv...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("capture on %s %s: %v", node, iface, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("capture on %s %s: %v", node, iface, err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			c.mu.Lock()
			c.stderr.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "listening on") {
				close(listening)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() { c.Stop() })
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		c.Stop()
		t.Fatalf("tcpdump on %s %s did not start: %s", node, iface, c.log())
	}
	return c
}

func (c *Capture) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.stderr.String())
}

// Stop ends the capture (tcpdump gets SIGINT and flushes the file) and
// returns the pcap's path.
func (c *Capture) Stop() string {
	c.once.Do(func() {
		c.cancel()
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			c.t.Errorf("tcpdump did not stop: %s", c.log())
		}
	})
	return c.Path
}

// WaitPackets waits until the pcap file holds at least n packets and fails
// the test after timeout. Use it before Stop when the traffic's last packets
// may still be on their way to tcpdump.
func (c *Capture) WaitPackets(n int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, _ := c.Packets()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("capture %s: %d packets after %s, want %d", c.Path, got, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Packets returns how many complete packets the pcap file holds.
func (c *Capture) Packets() (int, error) {
	f, err := os.Open(c.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return countPcap(bufio.NewReader(f))
}

// countPcap counts the records of a classic pcap stream.
func countPcap(r io.Reader) (int, error) {
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("pcap header: %w", err)
	}
	var le bool
	switch string(hdr[:4]) {
	case "\xd4\xc3\xb2\xa1", "\x4d\x3c\xb2\xa1":
		le = true
	case "\xa1\xb2\xc3\xd4", "\xa1\xb2\x3c\x4d":
	default:
		return 0, fmt.Errorf("not a pcap file (magic %x)", hdr[:4])
	}
	n := 0
	var rec [16]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil // a record still being written is not counted
		} else if err != nil {
			return n, fmt.Errorf("pcap record %d: %w", n+1, err)
		}
		incl := uint32(rec[8])<<24 | uint32(rec[9])<<16 | uint32(rec[10])<<8 | uint32(rec[11])
		if le {
			incl = uint32(rec[11])<<24 | uint32(rec[10])<<16 | uint32(rec[9])<<8 | uint32(rec[8])
		}
		if incl > 1<<18 {
			return n, fmt.Errorf("pcap record %d: length %d", n+1, incl)
		}
		if _, err := io.CopyN(io.Discard, r, int64(incl)); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("pcap record %d: %w", n+1, err)
		}
		n++
	}
}
