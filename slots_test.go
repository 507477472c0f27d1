package chaptask

import (
	"context"
	"testing"
	"time"
)

// A worker's slots: max at a time; a waiting run step lends its slot, so a
// blocked reservation goes ahead; taking it back may go above max, and
// then nothing new starts until the count is under max again.
func TestRunSlotsLendAndReclaim(t *testing.T) {
	s := newRunSlots(2)
	ctx := context.Background()
	for range 2 {
		if _, err := s.ReserveSlot(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if s.TryReserveSlot(nil) != nil {
		t.Fatal("a third slot out of 2")
	}

	reserved := make(chan error, 1)
	go func() {
		_, err := s.ReserveSlot(ctx, nil)
		reserved <- err
	}()
	s.Lend() // a parent starts waiting
	if err := <-reserved; err != nil {
		t.Fatalf("reserve after a lend: %v", err)
	}

	s.Reclaim() // its wait ends: 3 in use, over max
	if s.TryReserveSlot(nil) != nil {
		t.Fatal("a slot was given out above max")
	}
	s.ReleaseSlot(nil)
	if s.TryReserveSlot(nil) != nil {
		t.Fatal("a slot was given out at max")
	}
	s.ReleaseSlot(nil)
	if s.TryReserveSlot(nil) == nil {
		t.Fatal("no slot under max")
	}

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.ReserveSlot(short, nil); err == nil {
		t.Fatal("a reservation at max went ahead")
	}
}
