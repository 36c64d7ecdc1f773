package mpls

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

type fakeProg struct {
	bound map[uint32]uint32
	fail  error
	calls []string
}

func (p *fakeProg) BindLabel(l, vrf uint32) error {
	p.calls = append(p.calls, fmt.Sprintf("bind %d %d", l, vrf))
	if p.fail != nil {
		return p.fail
	}
	p.bound[l] = vrf
	return nil
}

func (p *fakeProg) UnbindLabel(l uint32) error {
	p.calls = append(p.calls, fmt.Sprintf("unbind %d", l))
	if p.fail != nil {
		return p.fail
	}
	delete(p.bound, l)
	return nil
}

func TestTableBindProgramsDataplane(t *testing.T) {
	p := &fakeProg{bound: map[uint32]uint32{}}
	tb := NewTable(p)
	agg := Binding{Local: 16, VRF: 1, Action: PopLookup}
	pfx := Binding{Local: 40, VRF: 1, Action: PopForward, Prefix: netip.MustParsePrefix("198.19.12.0/24"),
		NextHop: netip.MustParseAddr("198.19.0.3"), Interface: "Virtual-Access101"}
	for _, b := range []Binding{agg, pfx, agg} {
		if err := tb.Bind(b); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.calls) != 2 || p.bound[16] != 1 || p.bound[40] != 1 {
		t.Fatalf("programmer calls %v", p.calls)
	}
	if b, ok := tb.Lookup(40); !ok || b != pfx {
		t.Fatalf("lookup %+v %v", b, ok)
	}
	// A failed programming leaves the table as it was.
	p.fail = errors.New("dataplane says no")
	if err := tb.Bind(Binding{Local: 17, VRF: 2, Action: PopLookup}); err == nil {
		t.Fatal("bind succeeded although the dataplane refused")
	}
	if _, ok := tb.Lookup(17); ok {
		t.Fatal("table shows a binding the dataplane does not have")
	}
	if err := tb.Unbind(16); err == nil {
		t.Fatal("unbind succeeded although the dataplane refused")
	}
	p.fail = nil
	if err := tb.Unbind(16); err != nil {
		t.Fatal(err)
	}
	if err := tb.Unbind(16); !errors.Is(err, ErrNoBinding) {
		t.Fatalf("second unbind: %v", err)
	}
	if _, ok := p.bound[16]; ok {
		t.Fatal("dataplane still has label 16")
	}
}

func TestBindingValidation(t *testing.T) {
	pfx := netip.MustParsePrefix("198.19.12.0/24")
	nh := netip.MustParseAddr("198.19.0.3")
	for _, b := range []Binding{
		{Local: 3, Action: PopLookup},
		{Local: MaxLabel + 1, Action: PopLookup},
		{Local: 16, Action: PopLookup, Prefix: pfx},
		{Local: 16, Action: PopForward, NextHop: nh},
		{Local: 16, Action: PopForward, Prefix: pfx},
		{Local: 16},
	} {
		if err := NewTable(nil).Bind(b); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
}

func TestLookupNoAllocs(t *testing.T) {
	tb := NewTable(nil)
	tb.Bind(Binding{Local: 16, VRF: 1, Action: PopLookup})
	if n := testing.AllocsPerRun(1000, func() { tb.Lookup(16); tb.Lookup(99) }); n != 0 {
		t.Fatalf("Lookup allocates %v", n)
	}
}

func TestLookupConcurrentWithWriters(t *testing.T) {
	tb := NewTable(nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if b, ok := tb.Lookup(20); ok && b.VRF != 5 {
				t.Error("torn binding")
				return
			}
		}
	}()
	for i := 0; i < 200; i++ {
		tb.Bind(Binding{Local: 20, VRF: 5, Action: PopLookup})
		tb.Unbind(20)
	}
	close(stop)
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	tb := NewTable(nil)
	for l := Label(16); l < 1016; l++ {
		tb.Bind(Binding{Local: l, VRF: uint32(l), Action: PopLookup})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tb.Lookup(Label(16 + i%1000))
	}
}

func TestForwardingTableOutput(t *testing.T) {
	tb := NewTable(nil)
	tb.Bind(Binding{Local: 16, VRF: 1, Action: PopLookup})
	tb.Bind(Binding{Local: 40, VRF: 1, Action: PopForward, Prefix: netip.MustParsePrefix("198.19.12.0/24"),
		NextHop: netip.MustParseAddr("198.19.0.3"), Interface: "Virtual-Access101"})
	names := map[uint32]string{1: "cust1"}
	rows := Rows(tb.Bindings(), func(v uint32) string { return names[v] }, func(l Label) uint64 { return uint64(l) * 100 })
	var b bytes.Buffer
	if err := WriteForwardingTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"Local      Outgoing   Prefix               Bytes Label   Outgoing         Next Hop",
		"Label      Label      or Tunnel Id         Switched      interface",
		"16         No Label   cust1(vrf)           1600          aggregate/cust1",
		"40         No Label   198.19.12.0/24[V]    4000          Virtual-Access101 198.19.0.3",
		"",
	}, "\n")
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if rows[1].NextHop != "198.19.0.3" || rows[0].VRF != "cust1" || rows[0].Interface != "aggregate/cust1" {
		t.Fatalf("rows %+v", rows)
	}
}
