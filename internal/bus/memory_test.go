package bus_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/bustest"
)

func TestMemory(t *testing.T) {
	// Each Memory is its own backend, so cross-instance delivery does not apply.
	bustest.Run(t, func(t *testing.T) bus.Bus { return bus.NewMemory() }, bustest.Options{Shared: false})
}

func TestMemoryCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b := bus.NewMemory()
	ctx := t.Context()
	if _, err := b.Subscribe(ctx, "t", func(bus.Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", []byte("x")); err != nil {
		t.Fatal(err)
	}
	failing := func(ctx context.Context, j bus.Job) error { return errors.New("again") }
	if _, err := b.Enqueue(ctx, "q", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, "q", bus.ConsumeOptions{Concurrency: 4, Backoff: func(int) time.Duration { return time.Hour }}, failing)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := b.Stats(ctx, "q")
		if err != nil {
			t.Fatal(err)
		}
		if st.Delayed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never delayed: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != bus.ErrClosed {
		t.Errorf("Consume returned %v on Close, want ErrClosed", err)
	}
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
