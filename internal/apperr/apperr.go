// Package apperr is the product's one error vocabulary. Domain packages return
// typed errors that carry what a person needs to know; each adapter (HTTP,
// Discord replies, CLI) translates the Code once, in one table of its own.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for the adapters.
type Code string

const (
	Invalid     Code = "invalid"     // bad input; nothing changed
	NotFound    Code = "not_found"   // the thing named does not exist
	Conflict    Code = "conflict"    // the state forbids it now (already claimed, cooldown)
	Refused     Code = "refused"     // a business rule refuses it (insufficient funds, squad full)
	Forbidden   Code = "forbidden"   // the caller may not do it
	Unavailable Code = "unavailable" // a dependency is down; retry later
	Internal    Code = "internal"    // a bug or an unexpected failure; logged, never shown in detail
)

// Coded is implemented by every typed domain error.
type Coded interface {
	error
	Code() Code
}

// Error is a plain coded error with a message meant for people.
type Error struct {
	C       Code
	Message string
	Field   string // the input field at fault, when there is one
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Code() Code    { return e.C }

// New returns a coded error with a formatted, human-readable message.
func New(c Code, format string, args ...any) error {
	return &Error{C: c, Message: fmt.Sprintf(format, args...)}
}

// InvalidField reports a bad value for one named input field.
func InvalidField(field, format string, args ...any) error {
	return &Error{C: Invalid, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first coded error in err's chain, or
// Internal when there is none.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var c Coded
	if errors.As(err, &c) {
		return c.Code()
	}
	return Internal
}

// Is reports whether err carries code c.
func Is(err error, c Code) bool { return err != nil && CodeOf(err) == c }

// OutcomeUnknown reports whether an operation that failed with err may
// nevertheless have changed something: a dependency failed or the context
// ended mid-way. Coded refusals (invalid, not found, conflict, refused,
// forbidden) change nothing.
func OutcomeUnknown(err error) bool {
	c := CodeOf(err)
	return c == Unavailable || c == Internal
}
