package squads_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
)

func TestNewSpecDefaults(t *testing.T) {
	s := squads.NewSpec("Gophers", 77)
	if s.Name != "Gophers" || s.RoleID != 77 || s.SwitchCost != 50 || !s.Active || s.MaxMembers != 0 || s.Description != "" {
		t.Errorf("NewSpec = %+v; want switch cost 50, active, no limit", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("NewSpec does not validate: %v", err)
	}
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(s *squads.Spec)
		field string // "" = valid
	}{
		{"defaults", func(s *squads.Spec) {}, ""},
		{"empty name", func(s *squads.Spec) { s.Name = "" }, "name"},
		{"blank name", func(s *squads.Spec) { s.Name = " \t\n " }, "name"},
		{"100 runes ok", func(s *squads.Spec) { s.Name = strings.Repeat("ñ", 100) }, ""},
		{"101 runes", func(s *squads.Spec) { s.Name = strings.Repeat("a", 101) }, "name"},
		{"101 multi-byte runes", func(s *squads.Spec) { s.Name = strings.Repeat("é", 101) }, "name"},
		{"500-rune description ok", func(s *squads.Spec) { s.Description = strings.Repeat("ü", 500) }, ""},
		{"501-rune description", func(s *squads.Spec) { s.Description = strings.Repeat("d", 501) }, "description"},
		{"role 0", func(s *squads.Spec) { s.RoleID = 0 }, "role_id"},
		{"negative role", func(s *squads.Spec) { s.RoleID = -4 }, "role_id"},
		{"free switch ok", func(s *squads.Spec) { s.SwitchCost = 0 }, ""},
		{"negative cost", func(s *squads.Spec) { s.SwitchCost = -1 }, "switch_cost"},
		{"cost too large", func(s *squads.Spec) { s.SwitchCost = economy.MaxAmount + 1 }, "switch_cost"},
		{"max 1 ok", func(s *squads.Spec) { s.MaxMembers = 1 }, ""},
		{"negative max", func(s *squads.Spec) { s.MaxMembers = -1 }, "max_members"},
		{"max too large", func(s *squads.Spec) { s.MaxMembers = squads.MaxMembersLimit + 1 }, "max_members"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := squads.NewSpec("Gophers", 77)
			tc.edit(&s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want ok", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Validate = %v (%T), want *apperr.Error", err, err)
			}
			if ae.C != apperr.Invalid || ae.Field != tc.field {
				t.Errorf("Validate = code %q field %q, want invalid %q (%v)", ae.C, ae.Field, tc.field, err)
			}
		})
	}
}

func TestSpecValidateTrims(t *testing.T) {
	s := squads.NewSpec("  Gophers \n", 77)
	s.Description = "\t we write Go  "
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Name != "Gophers" || s.Description != "we write Go" {
		t.Errorf("after Validate: name %q description %q; want trimmed", s.Name, s.Description)
	}
	// Surrounding spaces do not count against the limit.
	s = squads.NewSpec("  "+strings.Repeat("x", 100)+"  ", 77)
	if err := s.Validate(); err != nil {
		t.Errorf("100 characters between spaces refused: %v", err)
	}
}

func TestCost(t *testing.T) {
	target := squads.Squad{ID: 2, SwitchCost: 35}
	if got := squads.Cost(0, target); got != 0 {
		t.Errorf("first squad costs %d, want 0", got)
	}
	if got := squads.Cost(1, target); got != 35 {
		t.Errorf("switching costs %d, want the target's 35", got)
	}
	if got := squads.Cost(1, squads.Squad{ID: 2, SwitchCost: 0}); got != 0 {
		t.Errorf("switching to a free squad costs %d", got)
	}
}

func TestCheckJoin(t *testing.T) {
	open := squads.Squad{ID: 2, Name: "B", Active: true, SwitchCost: 50, MaxMembers: 3, Members: 1}
	full := open
	full.Members = 3
	inactive := open
	inactive.Active = false
	unlimited := open
	unlimited.MaxMembers = 0
	unlimited.Members = 100000
	cases := []struct {
		name     string
		current  int64
		target   squads.Squad
		min, bal int64
		check    func(err error) bool
		wantCode apperr.Code
	}{
		{"ok", 0, open, 0, 0, nil, ""},
		{"ok switching", 1, open, 10, 10, nil, ""},
		{"no limit", 0, unlimited, 0, 0, nil, ""},
		{"already member", 2, open, 0, 100, func(err error) bool {
			var e *squads.AlreadyMemberError
			return errors.As(err, &e) && e.Squad == "B"
		}, apperr.Conflict},
		{"inactive", 0, inactive, 0, 100, func(err error) bool { return err != nil }, apperr.Refused},
		{"not eligible", 0, open, 150, 100, func(err error) bool {
			var e *squads.NotEligibleError
			return errors.As(err, &e) && e.Balance == 100 && e.Minimum == 150
		}, apperr.Refused},
		{"full", 0, full, 0, 100, func(err error) bool {
			var e *squads.FullError
			return errors.As(err, &e) && e.Max == 3 && e.Squad == "B"
		}, apperr.Refused},
		{"already member of a full squad", 2, full, 0, 100, func(err error) bool {
			var e *squads.AlreadyMemberError
			return errors.As(err, &e)
		}, apperr.Conflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := squads.CheckJoin(tc.current, tc.target, tc.min, tc.bal)
			if tc.check == nil {
				if err != nil {
					t.Fatalf("CheckJoin = %v, want ok", err)
				}
				return
			}
			if !tc.check(err) {
				t.Fatalf("CheckJoin = %v (%T)", err, err)
			}
			if got := apperr.CodeOf(err); got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
		})
	}
}

func TestSquadFull(t *testing.T) {
	cases := []struct {
		max, members int
		full         bool
	}{{0, 0, false}, {0, 1000, false}, {5, 4, false}, {5, 5, true}, {5, 6, true}}
	for _, tc := range cases {
		if got := (squads.Squad{MaxMembers: tc.max, Members: tc.members}).Full(); got != tc.full {
			t.Errorf("max %d members %d: Full() = %v", tc.max, tc.members, got)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	cases := []struct {
		err  error
		code apperr.Code
	}{
		{&squads.FullError{Squad: "A", Max: 5}, apperr.Refused},
		{&squads.NotEligibleError{Balance: 1, Minimum: 2}, apperr.Refused},
		{&squads.AlreadyMemberError{Squad: "A"}, apperr.Conflict},
		{&squads.NotInSquadError{}, apperr.Conflict},
		{&squads.NotFoundError{ID: 3}, apperr.NotFound},
	}
	for _, tc := range cases {
		if got := apperr.CodeOf(tc.err); got != tc.code {
			t.Errorf("%T: code %q, want %q", tc.err, got, tc.code)
		}
		if tc.err.Error() == "" {
			t.Errorf("%T: empty message", tc.err)
		}
	}
}
