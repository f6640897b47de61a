package apikeys_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func TestKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s := apikeys.NewService(db, func() time.Time { return now })
		k, token, err := s.Create(ctx, 42, apikeys.Spec{Name: "bot", Scope: apikeys.Write, GuildID: 7})
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(token, "_")
		if len(parts) != 3 || parts[0] != "sdk" || parts[1] != k.Prefix || len(parts[2]) != 64 {
			t.Fatalf("token %q", token)
		}
		got, err := s.Authenticate(ctx, token)
		if err != nil || got.ID != k.ID || got.Scope != apikeys.Write || got.GuildID != 7 {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		for _, bad := range []string{"", "sdk_", token[:len(token)-1] + "x", "sdk_" + k.Prefix + "_" + strings.Repeat("a", 64), strings.Replace(token, "sdk_", "sdx_", 1)} {
			if _, err := s.Authenticate(ctx, bad); !errors.Is(err, apikeys.ErrInvalidKey) {
				t.Errorf("%q: %v", bad, err)
			}
		}
		// last_used_at is written on first use, then at most once a minute.
		ks, _ := s.List(ctx)
		if !ks[0].LastUsedAt.Equal(now) {
			t.Fatalf("last used: %v", ks[0].LastUsedAt)
		}
		now = now.Add(30 * time.Second)
		_, _ = s.Authenticate(ctx, token)
		if ks, _ = s.List(ctx); !ks[0].LastUsedAt.Equal(now.Add(-30 * time.Second)) {
			t.Fatalf("last used written again within a minute: %v", ks[0].LastUsedAt)
		}
		if !apikeys.Write.Allows(apikeys.Read) || apikeys.Write.Allows(apikeys.Admin) || !apikeys.Admin.Allows(apikeys.Write) {
			t.Fatal("scope order")
		}
		nk, ntoken, err := s.Rotate(ctx, 43, k.Prefix)
		if err != nil || nk.Name != "bot" || nk.Scope != apikeys.Write || nk.GuildID != 7 || nk.Prefix == k.Prefix {
			t.Fatalf("rotate: %+v %v", nk, err)
		}
		if _, err := s.Authenticate(ctx, token); !errors.Is(err, apikeys.ErrInvalidKey) {
			t.Fatal("old key still works")
		}
		if _, err := s.Authenticate(ctx, ntoken); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, 44, nk.Prefix); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Revoke(ctx, 44, nk.Prefix); err == nil {
			t.Fatal("revoked twice")
		}
		if _, _, err := s.Create(ctx, 0, apikeys.Spec{Name: "x", Scope: "root"}); err == nil {
			t.Fatal("bad scope accepted")
		}
		// The guild's audit log has each change, by whom, in its transaction;
		// the refused second revocation left nothing.
		es, err := audit.List(ctx, db, 7, 0, 10, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var log []string
		for _, e := range es {
			log = append(log, fmt.Sprintf("%s by %d on %s: %s -> %s", e.Action, e.ActorID, e.Target, e.Before, e.After))
		}
		want := []string{
			fmt.Sprintf(`apikeys.revoke by 44 on apikey:%[1]s: {"prefix":"%[1]s","name":"bot","scope":"write","status":"active"} -> {"prefix":"%[1]s","name":"bot","scope":"write","status":"revoked"}`, nk.Prefix),
			fmt.Sprintf(`apikeys.rotate by 43 on apikey:%[1]s: {"prefix":"%[1]s","name":"bot","scope":"write","status":"active"} -> {"prefix":"%[2]s","name":"bot","scope":"write","status":"active"}`, k.Prefix, nk.Prefix),
			fmt.Sprintf(`apikeys.create by 42 on apikey:%[1]s: null -> {"prefix":"%[1]s","name":"bot","scope":"write","status":"active"}`, k.Prefix),
		}
		if strings.Join(log, "\n") != strings.Join(want, "\n") {
			t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestRevocationReachesOtherProcesses: a key verified (and cached) by one
// process stops working there as soon as another process revokes it.
func TestRevocationReachesOtherProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := bus.NewMemory()
		defer b.Close()
		a, other := apikeys.NewService(db, nil), apikeys.NewService(db, nil)
		for _, s := range []*apikeys.Service{a, other} {
			if err := s.Listen(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		k, token, err := a.Create(ctx, 0, apikeys.Spec{Name: "ci", Scope: apikeys.Read})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Revoke(ctx, 0, k.Prefix); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			_, err := other.Authenticate(ctx, token)
			if errors.Is(err, apikeys.ErrInvalidKey) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other process still accepts the revoked key: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A wrong secret for a cached prefix is still refused.
		k2, token2, _ := a.Create(ctx, 0, apikeys.Spec{Name: "ci2", Scope: apikeys.Read})
		if _, err := a.Authenticate(ctx, token2); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, "sdk_"+k2.Prefix+"_"+strings.Repeat("b", 64)); !errors.Is(err, apikeys.ErrInvalidKey) {
			t.Fatalf("wrong secret on a cached key: %v", err)
		}
	})
}

// TestKeyExpiry: a key with a lifetime stops working when it is up, even
// while this process holds it as verified; rotating renews the lifetime.
func TestKeyExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		now := t0
		s := apikeys.NewService(db, func() time.Time { return now })
		k, token, err := s.Create(ctx, 0, apikeys.Spec{Name: "deploy", Scope: apikeys.Read, TTL: 2 * time.Hour})
		if err != nil || !k.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("create: %+v %v", k, err)
		}
		now = t0.Add(2*time.Hour - time.Second) // verified, and cached
		if _, err := s.Authenticate(ctx, token); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		now = t0.Add(2 * time.Hour)
		_, err = s.Authenticate(ctx, token)
		var expired *apikeys.ExpiredError
		if !errors.Is(err, apikeys.ErrInvalidKey) || !errors.As(err, &expired) || !expired.At.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("at expiry: %v", err)
		}
		if ks, _ := s.List(ctx); !ks[0].Expired(now) || ks[0].Expired(now.Add(-time.Second)) {
			t.Fatalf("listed key: %+v", ks[0])
		}
		// A wrong secret with an expired prefix learns nothing more.
		if _, err := s.Authenticate(ctx, "sdk_"+k.Prefix+"_"+strings.Repeat("a", 64)); err != apikeys.ErrInvalidKey {
			t.Fatalf("a wrong secret learned more than that it is wrong: %v", err)
		}

		nk, ntoken, err := s.Rotate(ctx, 0, k.Prefix)
		if err != nil || !nk.ExpiresAt.Equal(now.Add(2*time.Hour)) {
			t.Fatalf("rotate an expired key: %+v %v", nk, err)
		}
		if _, err := s.Authenticate(ctx, ntoken); err != nil {
			t.Fatalf("rotated key: %v", err)
		}

		for _, ttl := range []time.Duration{-time.Hour, 30 * time.Minute, 6 * 365 * 24 * time.Hour} {
			if _, _, err := s.Create(ctx, 0, apikeys.Spec{Name: "x", Scope: apikeys.Read, TTL: ttl}); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("lifetime %s: %v", ttl, err)
			}
		}
	})
}

// TestExpiresSoon: a key counts as expiring from a week before its end
// until its end, and never once revoked or without a lifetime.
func TestExpiresSoon(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) apikeys.Key { return apikeys.Key{ExpiresAt: now.Add(d)} }
	for _, c := range []struct {
		name string
		k    apikeys.Key
		want bool
	}{
		{"no lifetime", apikeys.Key{}, false},
		{"in 3 days", at(3 * 24 * time.Hour), true},
		{"just inside the week", at(apikeys.ExpiryWarning - time.Second), true},
		{"a week away", at(apikeys.ExpiryWarning), false},
		{"in 30 days", at(30 * 24 * time.Hour), false},
		{"now: already expired", at(0), false},
		{"revoked", apikeys.Key{ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(-time.Hour)}, false},
	} {
		if got := c.k.ExpiresSoon(now); got != c.want {
			t.Errorf("%s: ExpiresSoon = %v, want %v", c.name, got, c.want)
		}
	}
}
