package xdp

import (
	"context"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// TestStopUnderLoad stops a gateway's workers while a ping flood crosses
// it and checks that every frame is back in its pool or with the kernel:
// workers finish the batch in hand before they return.
func TestStopUnderLoad(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ping")
	l := labtest.Up(t, twoSites)
	s1, s2 := sites()
	s2.startXDP(t, l, dataplane.ModeIPsec, false, true)
	var b *Backend
	must(t, l.Do("s1", func() error {
		var err error
		b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan"}}, Debug: true})
		return err
	}))
	s1.program(t, b, dataplane.ModeIPsec, false, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	flood := l.Command(pctx, "h1", "ping", "-f", "-q", "-w", "20", "198.19.2.10")
	must(t, flood.Start())
	defer func() { pcancel(); _ = flood.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); b.Status().Queues[0].TxWAN < 500; {
		if time.Now().After(deadline) {
			t.Fatalf("flood not flowing: %+v", b.Status().Queues[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	q := b.Status().Queues[0]
	checkLedger(t, "s1", b)
	must(t, b.Close())
	t.Logf("stopped after rx %d/%d tx %d/%d", q.RxLAN, q.RxWAN, q.TxWAN, q.TxLAN)
}
