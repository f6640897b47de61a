package logging

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// The access log line is the one line written for every request, so a JSON
// logger made by New writes it without slog's generic machinery (a Record,
// attributes walked through closures, the float through encoding/json): the
// same bytes, built straight into a buffer on the stack. Whatever it cannot
// write as slog would byte for byte (a value to escape or mask, context
// fields, groups, attributes of other kinds) goes the ordinary way;
// TestAccessLineAsSlog compares the two.

// accessLine is what Middleware logs about a request.
type accessLine struct {
	time     time.Time
	level    slog.Level
	method   string
	route    string
	status   int
	duration time.Duration
	bytes    int64
	remote   string
	// plainRoute: route is known to be plain JSON (routeOf); routeTail,
	// when not empty, is the line from the route's key to the status's
	// (`","route":"/x","status":`), made once per pattern.
	plainRoute bool
	routeTail  string
	// id and sc are the request's id and span context, as Middleware knows
	// them (its record and the request's span), not looked up in the
	// context again; id is a SaneRequestID's, plain JSON.
	id string
	sc trace.SpanContext
}

// record is the line as a slog record, handed to the handler as LogAttrs
// would, without the caller's PC that LogAttrs looks up on every line and no
// handler here prints (no AddSource).
func (l *accessLine) record() slog.Record {
	r := slog.NewRecord(l.time, l.level, "http request", 0)
	r.AddAttrs(
		slog.String("method", l.method),
		slog.String("route", l.route),
		slog.Int("status", l.status),
		slog.Float64("duration_ms", float64(l.duration.Microseconds())/1000),
		slog.Int64("bytes", l.bytes),
		slog.String("remote", l.remote),
	)
	return r
}

// fastJSON is the direct writer of a JSON Handler: the writer the inner
// slog handler writes to (with the same lock) and the JSON of the
// attributes added with WithAttrs, already masked.
type fastJSON struct {
	w   io.Writer
	pre []byte // `,"component":"http"`...
	// mid is the line from the level to the method's value, by level
	// (debug, info, warn, error): `","level":"INFO","msg":"http request"`,
	// pre, `,"method":"`; the same for every line of a level.
	mid [4][]byte
}

func newFastJSON(w io.Writer, pre []byte) *fastJSON {
	f := &fastJSON{w: w, pre: pre}
	for i := range f.mid {
		f.mid[i] = appendMid(nil, slog.Level(4*i-4), pre)
	}
	return f
}

func appendMid(b []byte, level slog.Level, pre []byte) []byte {
	b = append(b, `","level":"`...)
	b = append(b, level.String()...)
	b = append(b, `","msg":"http request"`...)
	b = append(b, pre...)
	return append(b, `,"method":"`...)
}

// lineWriter is w for the slog handler and fastJSON, which both write a
// whole line in one Write: as it is when w takes concurrent Writes whole (a
// file, stdout: the os.File locks each Write; a Buffered, which locks its
// buffer; io.Discard), else behind a lock. A lock of ours taken by every
// request of a busy server costs it the cache line moving between cores on
// every line.
func lineWriter(w io.Writer) io.Writer {
	switch w.(type) {
	case *os.File, *Buffered:
		return w
	}
	if w == io.Discard {
		return w
	}
	return &lockedWriter{w: w}
}

// lockedWriter serialises the writes of the slog handler and of fastJSON.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// writeAccess writes the line directly and reports true, or reports false
// (nothing written) when the line must go through slog.
func (h *Handler) writeAccess(ctx context.Context, l *accessLine) bool {
	f := h.fast
	if f == nil {
		return false
	}
	if _, ok := ctx.Value(fieldsKey{}).([]slog.Attr); ok {
		return false
	}
	id := l.id
	// What could need escaping or hold a secret goes through slog. A
	// standard method is neither; the id is a SaneRequestID's, plain,
	// though a client could send a secret as one; the route is a pattern of
	// the code: it is only checked for escapes, once per pattern.
	masked := func(s string) bool { _, m := h.mask(s); return m }
	if !standardMethod(l.method) && (!plainJSON(l.method) || masked(l.method)) ||
		!plainJSON(l.remote) || masked(l.remote) ||
		masked(id) ||
		!l.plainRoute && !plainJSON(l.route) {
		return false
	}
	if u := l.time.Unix(); u < -62135596800 || u >= 253402300800 { // years 1-9999 (slog flags others)
		return false
	}
	switch w := f.w.(type) {
	case *Buffered:
		if len(l.id) <= len(accessRec{}.idBuf) {
			w.queueAccess(f, l)
			break
		}
		var line [512]byte
		_ = w.writeLine(f.appendLine(line[:0], l))
	default:
		// On the stack; the writer gets a pooled copy (writeCopy).
		var line [512]byte
		writeCopy(w, f.appendLine(line[:0], l))
	}
	if h.out != nil && l.level >= slog.LevelWarn {
		_ = h.out.Flush()
	}
	return true
}

// appendLine appends l's JSON line, as slog would write it.
func (f *fastJSON) appendLine(b []byte, l *accessLine) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, l.time)
	if i := int(l.level+4) / 4; l.level%4 == 0 && i >= 0 && i < len(f.mid) {
		b = append(b, f.mid[i]...)
	} else {
		b = appendMid(b, l.level, f.pre)
	}
	b = append(b, l.method...)
	if l.routeTail != "" {
		b = append(b, l.routeTail...)
	} else {
		b = append(b, `","route":"`...)
		b = append(b, l.route...)
		b = append(b, `","status":`...)
	}
	if st := l.status; st >= 100 && st <= 999 { // as strconv writes it, without its general case
		b = append(b, byte('0'+st/100), byte('0'+st/10%10), byte('0'+st%10))
	} else {
		b = strconv.AppendInt(b, int64(st), 10)
	}
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, l.duration)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, l.bytes, 10)
	b = append(b, `,"remote":"`...)
	b = append(b, l.remote...)
	b = append(b, '"')
	if l.id != "" {
		b = append(b, `,"request_id":"`...)
		b = append(b, l.id...)
		b = append(b, '"')
	}
	if sc := l.sc; sc.IsValid() {
		tid, sid := sc.TraceID(), sc.SpanID()
		b = append(b, `,"trace_id":"`...)
		b = appendHex(b, tid[:])
		b = append(b, `","span_id":"`...)
		b = appendHex(b, sid[:])
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// accessRec is an access line waiting in a Buffered: the line as the
// middleware gave it, with its id copied out of the request's record
// (which would otherwise stay alive, with the request, until written).
type accessRec struct {
	f     *fastJSON
	line  accessLine // id: in idBuf
	idBuf [64]byte   // a SaneRequestID's at most
}

// set makes r a copy of l, written by f.
func (r *accessRec) set(f *fastJSON, l *accessLine) {
	r.f, r.line = f, *l
	r.line.id = unsafe.String(&r.idBuf[0], copy(r.idBuf[:], l.id)) // the record's own bytes: the ring is never moved
}

var accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeCopy writes a copy of b to w, which may keep what it is given: b
// itself stays where its caller put it (on the stack).
func writeCopy(w io.Writer, b []byte) {
	if w == io.Discard {
		return
	}
	bp := accessBufs.Get().(*[]byte)
	c := append((*bp)[:0], b...)
	_, _ = w.Write(c)
	if cap(c) <= 4096 {
		*bp = c
		accessBufs.Put(bp)
	}
}

// appendTime appends t as AppendFormat(time.RFC3339Nano) does, which is how
// slog's JSON handler writes a record's time; the date, clock and zone are
// formatted once a second, the fraction for each line.
func appendTime(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	c := timeCache.Load()
	if c == nil || c.sec != sec || c.loc != loc {
		c = &formattedSecond{sec: sec, loc: loc,
			head: t.AppendFormat(nil, "2006-01-02T15:04:05"), zone: t.AppendFormat(nil, "Z07:00")}
		timeCache.Store(c)
	}
	b = append(b, c.head...)
	if ns := t.Nanosecond(); ns != 0 { // nine digits, trailing zeros dropped
		var d [10]byte
		d[0], d[1] = '.', byte('0'+ns/1e8)
		ns %= 1e8
		for i := 8; i >= 2; i -= 2 { // two digits a step
			d[i], d[i+1] = digitPairs[ns%100*2], digitPairs[ns%100*2+1]
			ns /= 100
		}
		n := len(d)
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, c.zone...)
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

type formattedSecond struct {
	sec        int64
	loc        *time.Location
	head, zone []byte
}

var timeCache atomic.Pointer[formattedSecond]

// appendMillis appends d in milliseconds with microsecond precision, as
// slog's JSON handler writes float64(d.Microseconds())/1000 (encoding/json's
// format, which for these values is strconv's shortest 'f').
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us <= -1e12 || us >= 1e12 {
		return appendMillisFloat(b, us)
	}
	// n/1000 for a whole n under 10^12 has at most 12 significant digits,
	// fewer than a float64 keeps, so encoding/json writes it as exactly
	// this: the integer part, then up to three decimals without trailing
	// zeros.
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	if frac := us % 1000; frac != 0 {
		d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		n := len(d)
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return b
}

// appendMillisFloat is appendMillis through a float, as slog's JSON handler
// writes a float64 attribute.
func appendMillisFloat(b []byte, us int64) []byte {
	ms := float64(us) / 1000
	if abs := math.Abs(ms); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		j, _ := json.Marshal(ms) // not reached by a duration: encoding/json's exponent form
		return append(b, j...)
	}
	return strconv.AppendFloat(b, ms, 'f', -1, 64)
}

func standardMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

// plainJSON reports whether s is written in JSON as it is: printable ASCII
// without quote or backslash. Every request's access line asks it of its
// remote address and route, so it looks at eight bytes at a time (bytewise
// it was the line's largest cost).
func plainJSON(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	last := s[len(s)-8:] // checked whole: some of its bytes twice
	for len(s) > 8 {
		if !plainWord(s) {
			return false
		}
		s = s[8:]
	}
	return plainWord(last)
}

// plainWord is plainJSON of the first eight bytes of w: a byte below 0x20
// (and only such a byte) sets its high bit in x-0x20 where x has it clear;
// 0x7f and above set it in x+1 or in x; '"' and '\\' are the bytes of the
// XOR that are zero, which set it in XOR-1 (word-at-a-time tests of "Bit
// Twiddling Hacks", Sean Eron Anderson: a borrow or a carry between bytes
// starts only at a byte already found, so the answer is exact).
func plainWord(w string) bool {
	_ = w[7] // one bounds check for the eight
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	q, bs := x^(lowBits*'"'), x^(lowBits*'\\')
	found := (x-lowBits*0x20)&^x | (x + lowBits) | x | (q-lowBits)&^q | (bs-lowBits)&^bs
	return found&highBits == 0
}

const (
	lowBits  = 0x0101010101010101 // the lowest bit of each byte
	highBits = 0x8080808080808080 // the highest
)

// fastPre returns the JSON of as (already masked) appended to pre, or false
// when one of them is not a plain string or integer under a plain key.
func fastPre(pre []byte, as []slog.Attr) ([]byte, bool) {
	out := append([]byte(nil), pre...)
	for _, a := range as {
		if a.Key == "" || !plainJSON(a.Key) {
			return nil, false
		}
		switch a.Value.Kind() {
		case slog.KindString:
			if !plainJSON(a.Value.String()) {
				return nil, false
			}
			out = append(append(append(append(append(out, `,"`...), a.Key...), `":"`...), a.Value.String()...), '"')
		case slog.KindInt64:
			out = strconv.AppendInt(append(append(append(out, `,"`...), a.Key...), `":`...), a.Value.Int64(), 10)
		default:
			return nil, false
		}
	}
	return out, true
}
