package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Closing the REST client while a request is in flight waits for it until
// the context ends, and then neither that request nor a later one blocks:
// disgo's own Close left its bucket map locked, which hung the bot's
// shutdown when a menu-expiry edit was under way.
func TestRESTCloseDoesNotStrandRequests(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"1","username":"bot","discriminator":"0"}`))
	}))
	defer srv.Close()
	r := NewREST(RESTOptions{Token: "t", APIURL: srv.URL + "/api/v10"})
	first := make(chan error, 1)
	go func() { _, err := r.GetCurrentUser(""); first <- err }()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	r.Close(ctx) // returns when ctx ends: the request is still in flight
	cancel()
	close(release)
	awaitNoError(t, first, "the request in flight during Close")
	later := make(chan error, 1)
	go func() { _, err := r.GetCurrentUser(""); later <- err }()
	awaitNoError(t, later, "a request after Close")
}

// awaitNoError fails t unless what reports nil on done within 10 s.
func awaitNoError(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never finished", what)
	}
}

// A shard whose opening a shutdown cancelled is logged at info, with its
// error and shard; any other failure to open one stays an error. The record
// goes through the logger of the bot (fenceHandler), as disgo's do.
func TestShardOpeningCancelledIsNotAnError(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(fenceHandler{f: &fence{}, inner: slog.NewJSONHandler(&buf, nil), shard: -1}).With("shard_id", 0)
	for _, c := range []struct {
		err   error
		level string
		msg   string
	}{
		{fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}), "INFO", "shard opening stopped: shutting down"},
		{context.Canceled, "INFO", "shard opening stopped: shutting down"},
		{context.DeadlineExceeded, "ERROR", "failed to open shard"},
		{errors.New("websocket: bad handshake"), "ERROR", "failed to open shard"},
	} {
		buf.Reset()
		log.Error("failed to open shard", slog.Any("err", c.err), slog.Int("shard_count", 2))
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%v: %v in %q", c.err, err, buf.String())
		}
		if line["level"] != c.level || line["msg"] != c.msg || line["err"] != c.err.Error() || line["shard_id"] != 0.0 || line["shard_count"] != 2.0 {
			t.Errorf("%v: logged %v, want %s %q with the error and shard", c.err, line, c.level, c.msg)
		}
	}
}
