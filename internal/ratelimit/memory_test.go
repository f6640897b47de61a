package ratelimit_test

import (
	"context"
	"testing"

	"github.com/smarterdev/smarterdev/internal/ratelimit"
)

// TestHugeRateDoesNotPanic: a rate above 1e9/s once made the interval zero.
func TestHugeRateDoesNotPanic(t *testing.T) {
	m := ratelimit.NewMemory(nil)
	r, err := m.Allow(context.Background(), "k", ratelimit.Limit{Rate: 2_000_000_000, Burst: 10})
	if err != nil || !r.Allowed {
		t.Fatalf("%+v %v", r, err)
	}
}
