package api

import (
	"encoding/base64"
	"strconv"

	"github.com/smarterdev/smarterdev/internal/apperr"
)

// snowflake parses a decimal Discord id; field names it in the error.
func snowflake(field, v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.InvalidField(field, "must be a Discord snowflake as a decimal string, got %q", v)
	}
	return id, nil
}

// optionalSnowflake is snowflake for an optional value ("" is 0).
func optionalSnowflake(field, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	return snowflake(field, v)
}

func idString(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// Cursors are opaque to clients: the base64 of the last row's id (or user id)
// in the page. Nothing is gained by signing them: a forged cursor only moves
// the window of a list the key may read anyway.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if id, err := strconv.ParseInt(string(b), 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, apperr.InvalidField("cursor", "is not a cursor this API returned; pass next_cursor from the previous page")
}

// nextCursor returns the cursor for the page after one that ended at last,
// or "" when the page was not full (so there is nothing after it).
func nextCursor(n, limit int, last int64) string {
	if n < limit || n == 0 {
		return ""
	}
	return encodeCursor(last)
}
