package ike

import (
	"bytes"
	"fmt"
	"testing"
)

// TestVendorIDListsShared: equal Vendor ID lists intern to one shared
// list, different ones stay apart, and the cache stays small.
func TestVendorIDListsShared(t *testing.T) {
	var c vidCache
	if c.intern(nil) != nil {
		t.Fatal("empty list interned")
	}
	a := c.intern([][]byte{[]byte("one"), []byte("two")})
	b := c.intern([][]byte{[]byte("one"), []byte("two")})
	if &a[0] != &b[0] {
		t.Error("equal lists not shared")
	}
	if cap(a) != len(a) {
		t.Error("shared list has spare capacity: an append by a reader would write into it")
	}
	d := c.intern([][]byte{[]byte("one")})
	if len(d) != 1 || !bytes.Equal(d[0], []byte("one")) || &d[0] == &a[0] {
		t.Errorf("a different list came back as %q", d)
	}
	for i := range 20 {
		c.intern([][]byte{fmt.Appendf(nil, "v%d", i)})
	}
	if len(c.lists) > 8 {
		t.Errorf("cache holds %d lists", len(c.lists))
	}
}
