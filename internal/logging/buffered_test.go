package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// capture records what reaches the output, one Write at a time.
type capture struct {
	mu     sync.Mutex
	writes [][]byte
	fail   error
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *capture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(bytes.Join(c.writes, nil))
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

// Lines written at once from many goroutines come out whole, each once, in
// far fewer writes than lines, and a goroutine's own lines in its order.
func TestBufferedKeepsEveryLineWhole(t *testing.T) {
	var out capture
	b := newBuffered(&out, time.Hour) // only a full buffer and Close write
	const writers, per = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				_, _ = fmt.Fprintf(b, "w%d line %05d %s\n", w, i, strings.Repeat("x", i%300))
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.text(), "\n"), "\n")
	if len(lines) != writers*per {
		t.Fatalf("%d lines out, want %d", len(lines), writers*per)
	}
	next := make([]int, writers)
	for _, l := range lines {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d line %d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("mangled line %q: %v", l, err)
		}
		xs := l[strings.LastIndexByte(l, ' ')+1:]
		if i != next[w] || len(xs) != i%300 || strings.Trim(xs, "x") != "" {
			t.Fatalf("writer %d: line %d (%d x) where line %d was due", w, i, len(xs), next[w])
		}
		next[w]++
	}
	if n := out.count(); n > writers*per/10 {
		t.Errorf("%d writes for %d lines: not buffered", n, writers*per)
	}
}

// A line waits at most about the flush interval: with nobody calling Flush
// it still reaches the output.
func TestBufferedFlushesOnItsOwn(t *testing.T) {
	var out capture
	b := newBuffered(&out, 10*time.Millisecond)
	defer b.Close()
	_, _ = b.Write([]byte("alone\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.text() != "alone\n" {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line never reached the output")
		}
		time.Sleep(time.Millisecond)
	}
}

// A line as large as the buffer goes out directly, after what was buffered
// before it; a full buffer is written out before the line that overflows it.
func TestBufferedLargeLinesAndAFullBuffer(t *testing.T) {
	var out capture
	b := newBuffered(&out, time.Hour)
	defer b.Close()
	_, _ = b.Write([]byte("small\n"))
	big := append(bytes.Repeat([]byte("b"), BufferSize), '\n')
	if n, err := b.Write(big); err != nil || n != len(big) {
		t.Fatalf("big line: %d, %v", n, err)
	}
	if got := out.text(); got != "small\n"+string(big) {
		t.Fatalf("out of order or held back: %d bytes out", len(got))
	}
	line := append(bytes.Repeat([]byte("l"), 999), '\n')
	for range BufferSize/len(line) + 1 {
		_, _ = b.Write(line)
	}
	if n := out.count(); n != 3 {
		t.Fatalf("%d writes: the full buffer should have gone out in one", n)
	}
}

// writeLine (the access log's) keeps a line whole, after what was buffered
// before it, and one larger than the buffer goes out in order, in pieces.
func TestBufferedWriteLine(t *testing.T) {
	var out capture
	b := newBuffered(&out, time.Hour)
	defer b.Close()
	_ = b.writeLine([]byte("small\n"))
	line := append(bytes.Repeat([]byte("l"), 999), '\n')
	for range BufferSize / len(line) {
		_ = b.writeLine(line)
	}
	if n := out.count(); n != 0 {
		t.Fatalf("%d writes before the buffer was full", n)
	}
	_ = b.writeLine(line) // does not fit: what was buffered goes out first, whole
	if n := out.count(); n != 1 || !strings.HasPrefix(out.text(), "small\n") || len(out.text()) != len("small\n")+BufferSize/len(line)*len(line) {
		t.Fatalf("after the overflowing line: %d writes, %d bytes", n, len(out.text()))
	}
	big := append(bytes.Repeat([]byte("b"), 2*BufferSize+10), '\n')
	if err := b.writeLine(big); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "small\n" + strings.Repeat(string(line), BufferSize/len(line)+1) + string(big)
	if got := out.text(); got != want {
		t.Fatalf("out of order or lost: %d bytes out, want %d", len(got), len(want))
	}
}

// Access lines wait as records and come out formatted in the order they
// and the other lines were written: across batches (more than AccessBatch
// of them), before a plain line, through a flush, and with the request's
// id copied, not kept by reference.
func TestBufferedAccessLinesInOrder(t *testing.T) {
	var out capture
	b := newBuffered(&out, time.Hour)
	defer b.Close()
	log := New(b, Options{})
	h := log.Handler().(*Handler)
	var want strings.Builder
	id := []byte("req-00000")
	for i := range 3*AccessBatch + 5 {
		if i%50 == 7 {
			line := fmt.Sprintf("plain %d\n", i)
			_, _ = b.Write([]byte(line))
			want.WriteString(line)
			continue
		}
		copy(id[4:], fmt.Sprintf("%05d", i))
		l := accessLine{time: time.Date(2026, 11, 23, 9, 0, 0, i, time.UTC), level: slog.LevelInfo, method: "GET",
			route: "/x/{id}", status: 200, duration: time.Duration(i) * time.Microsecond, bytes: int64(i),
			remote: "127.0.0.1:1", id: unsafe.String(&id[0], len(id))} // its bytes change after the call, as the middleware's record is dropped
		var direct [512]byte
		want.Write(h.fast.appendLine(direct[:0], &l))
		if !h.writeAccess(context.Background(), &l) {
			t.Fatal("not written directly")
		}
		if i == 2*AccessBatch {
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.text(); got != want.String() {
		t.Fatalf("out of order or changed:\n%.600s\nwant:\n%.600s", got, want.String())
	}
}

// A failing output drops the buffered lines and reports the error: the
// buffer does not grow without bound while the output is down.
func TestBufferedOutputFailing(t *testing.T) {
	out := capture{fail: errors.New("pipe closed")}
	b := newBuffered(&out, time.Hour)
	defer b.Close()
	_, _ = b.Write([]byte("lost\n"))
	if err := b.Flush(); err == nil {
		t.Fatal("a failed write reported no error")
	}
	out.mu.Lock()
	out.fail = nil
	out.mu.Unlock()
	_, _ = b.Write([]byte("next\n"))
	if err := b.Flush(); err != nil || out.text() != "next\n" {
		t.Fatalf("after the output came back: %q, %v", out.text(), err)
	}
}

// A logger made by New over a Buffered holds info lines, access lines
// included, and writes a warning, an error or a 5xx access line through at
// once, with what was held before it, in order.
func TestLoggerWritesWarningsThrough(t *testing.T) {
	var out capture
	b := newBuffered(&out, time.Hour)
	defer b.Close()
	log := New(b, Options{})
	log.Info("first")
	log.With("component", "x").Debug("hidden")
	if out.text() != "" {
		t.Fatalf("an info line was written through: %q", out.text())
	}
	log.With("component", "x").Warn("second")
	got := out.text()
	if !strings.Contains(got, `"msg":"first"`) || !strings.Contains(got, `"msg":"second"`) || strings.Index(got, "first") > strings.Index(got, "second") {
		t.Fatalf("after a warning: %q", got)
	}

	h := Middleware(log.With("component", "http"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	before := out.text()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ok", nil))
	if out.text() != before {
		t.Fatal("a 200's access line was written through")
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/fail", nil))
	rest := strings.TrimPrefix(out.text(), before)
	if !strings.Contains(rest, `"status":200`) || !strings.Contains(rest, `"status":500`) {
		t.Fatalf("after a 500: %q", rest)
	}

	text := New(b, Options{Format: "text"})
	text.ErrorContext(context.Background(), "third")
	if !strings.Contains(out.text(), "msg=third") {
		t.Fatal("the text format's error line was held back")
	}
}

// BenchmarkLogOutput is what writing one access line (300 bytes) to
// /dev/null costs: a write system call per line, as an os.File does, or
// Buffered's copy. A pipe to a supervisor or a container runtime costs the
// system call more than /dev/null does.
func BenchmarkLogOutput(b *testing.B) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	line := append(bytes.Repeat([]byte("x"), 299), '\n')
	b.Run("file", func(b *testing.B) {
		for b.Loop() {
			_, _ = f.Write(line)
		}
	})
	b.Run("buffered", func(b *testing.B) {
		w := NewBuffered(f)
		defer w.Close()
		for b.Loop() {
			_, _ = w.Write(line)
		}
	})
}
