package shard

import (
	"sync"
	"testing"
)

func TestShardsFor(t *testing.T) {
	for procs, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 8: 8, 9: 16, 64: 64, 65: 64, 1000: 64} {
		if got := shardsFor(procs); got != want {
			t.Errorf("shardsFor(%d) = %d, want %d", procs, got, want)
		}
	}
}

func TestIndexInRange(t *testing.T) {
	for range 10000 {
		if i := Index(); i < 0 || i >= N() {
			t.Fatalf("Index() = %d, want [0, %d)", i, N())
		}
	}
}

// TestInt64ConcurrentAddsAndTakes: adds from many goroutines while another
// takes; every add is taken once.
func TestInt64ConcurrentAddsAndTakes(t *testing.T) {
	c := NewInt64()
	const workers, adds = 8, 20000
	var wg sync.WaitGroup
	done := make(chan struct{})
	var taken int64
	go func() { // takes until it has every add
		defer close(done)
		for taken != workers*adds*2 {
			taken += c.Take()
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range adds {
				c.Add(3)
				c.Add(-1)
			}
		}()
	}
	wg.Wait()
	<-done
	if taken != workers*adds*2 {
		t.Fatalf("taken %d, want %d", taken, workers*adds*2)
	}
	if n := c.Load(); n != 0 {
		t.Fatalf("Load after Take = %d, want 0", n)
	}
}
