package lab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

func ping(t *testing.T, l *lab.Lab, node, dst string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, node, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "5", dst)
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", dst, node, err, out)
	}
	return string(out)
}

func TestUpHub3SpokesNAT(t *testing.T) {
	l := labtest.Up(t, labtest.Topology("hub-3spokes-nat"))
	out := ping(t, l, "host2", "198.19.0.10")
	if !strings.Contains(out, " 0% packet loss") {
		t.Errorf("ping output: %s", out)
	}
	ping(t, l, "host3", "2001:db8:1::10")
	ping(t, l, "host1", "198.19.0.10")
}
