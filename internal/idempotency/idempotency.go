// Package idempotency makes retried writes safe: the first request with an
// Idempotency-Key runs, and every retry with the same key and body gets the
// first response back instead of running again.
//
// The design, and its one trade-off: Begin inserts the key's row in its own
// transaction before the operation runs (a unique index makes a concurrent
// duplicate see that row and be refused with InFlightError), the operation
// runs in its own transaction, and Complete stores the response. The domain
// services own their transactions, so the operation and the stored response
// cannot commit together. A crash between the two leaves a row with no
// response: retries of that key are refused as in flight until the row
// expires (24 h), rather than risk running a transfer twice. A server error
// (5xx) releases the row, since nothing was done and a retry should run.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// MaxKeyLength bounds a key; clients typically send a UUID.
const MaxKeyLength = 255

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Scope names one key: keys are per API key and per route, so two clients
// (or two routes) never collide.
type Scope struct {
	APIKeyID int64
	Route    string // the route pattern, e.g. "POST /api/v1/guilds/{guild}/bytes/transfers"
	Key      string
}

// Response is what the first request answered.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// MismatchError: the key was used before with a different request.
type MismatchError struct{}

func (e *MismatchError) Error() string {
	return "this Idempotency-Key was already used with a different request; use a new key for a new request"
}
func (e *MismatchError) Code() apperr.Code { return apperr.Invalid }

// InFlightError: the first request with this key has not finished.
type InFlightError struct{}

func (e *InFlightError) Error() string {
	return "a request with this Idempotency-Key is still being processed; retry shortly"
}
func (e *InFlightError) Code() apperr.Code { return apperr.Conflict }

// CheckKey validates a client's key.
func CheckKey(key string) error {
	if len(key) > MaxKeyLength {
		return apperr.InvalidField(Header, "at most %d characters, got %d", MaxKeyLength, len(key))
	}
	for _, c := range key {
		if c < 0x20 || c > 0x7e {
			return apperr.InvalidField(Header, "must be printable ASCII")
		}
	}
	return nil
}

// Hash fingerprints a request: the same path and body give the same hash.
func Hash(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Store keeps keys in the database.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns a Store; now is the clock (nil: time.Now).
func NewStore(db *store.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: func() time.Time { return now().UTC() }}
}

// Claim is a key this request holds; pass it to Complete or Release.
type Claim struct{ id int64 }

// Begin claims the key for this request, or returns the stored response to
// replay (claim is zero then), a MismatchError or an InFlightError.
func (s *Store) Begin(ctx context.Context, sc Scope, requestHash string) (Claim, *Response, error) {
	if err := CheckKey(sc.Key); err != nil {
		return Claim{}, nil, err
	}
	var claim Claim
	var replay *Response
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		claim, replay = Claim{}, nil
		now := s.now()
		// Twice at most: once more after deleting an expired row.
		for range 2 {
			id, err := tx.InsertIdempotencyKey(ctx, sqldb.InsertIdempotencyKeyParams{
				ApiKeyID: sc.APIKeyID, Route: sc.Route, IdemKey: sc.Key, RequestHash: requestHash,
				CreatedAt: now, ExpiresAt: now.Add(TTL),
			})
			if err == nil {
				claim = Claim{id: id}
				return nil
			}
			if !store.IsNoRows(err) {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			row, err := tx.GetIdempotencyKey(ctx, sqldb.GetIdempotencyKeyParams{ApiKeyID: sc.APIKeyID, Route: sc.Route, IdemKey: sc.Key})
			if store.IsNoRows(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read idempotency key: %w", err)
			}
			if !row.ExpiresAt.After(now) {
				if _, err := tx.DeleteExpiredIdempotencyKey(ctx, sqldb.DeleteExpiredIdempotencyKeyParams{ID: row.ID, Now: now}); err != nil {
					return fmt.Errorf("expire idempotency key: %w", err)
				}
				continue
			}
			if row.RequestHash != requestHash {
				return &MismatchError{}
			}
			if row.Status == 0 {
				return &InFlightError{}
			}
			replay = &Response{Status: int(row.Status), ContentType: row.ContentType, Body: []byte(row.Response)}
			return nil
		}
		return &InFlightError{}
	})
	return claim, replay, err
}

// Complete stores the response to replay for the claimed key.
func (s *Store) Complete(ctx context.Context, c Claim, r Response) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		return tx.CompleteIdempotencyKey(ctx, sqldb.CompleteIdempotencyKeyParams{
			ID: c.id, Status: int32(r.Status), ContentType: r.ContentType, Response: string(r.Body),
		})
	})
}

// Release forgets a claim whose request did nothing (a server error), so a
// retry with the same key runs.
func (s *Store) Release(ctx context.Context, c Claim) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error { return tx.ReleaseIdempotencyKey(ctx, c.id) })
}

// Purge deletes expired keys and returns how many.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.PurgeIdempotencyKeys(ctx, s.now())
		return err
	})
	return n, err
}
