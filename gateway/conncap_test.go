package gateway

import (
	"testing"
)

func TestConnSlotsPerAddress(t *testing.T) {
	s := &Server{MaxConnsPerAddress: 3}
	s.initLimits()
	for i := range 3 {
		if !s.takeConnSlot("10.0.0.1") {
			t.Fatalf("connection %d refused under the cap", i)
		}
	}
	if s.takeConnSlot("10.0.0.1") {
		t.Fatal("a fourth connection from one address passed a cap of 3")
	}
	if !s.takeConnSlot("10.0.0.2") {
		t.Fatal("another address is capped too")
	}
	s.giveConnSlot("10.0.0.1")
	if !s.takeConnSlot("10.0.0.1") {
		t.Fatal("a freed slot was not given back")
	}
	for range 3 {
		s.giveConnSlot("10.0.0.1")
	}
	if len(s.connsByIP) != 1 {
		t.Fatalf("counts left behind: %v", s.connsByIP)
	}
}
