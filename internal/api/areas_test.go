package api

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/smarterdev/smarterdev/internal/audit"
)

// The OpenAPI enum of ?area= is a struct tag, so it cannot be built from
// audit.Areas; this keeps the two the same, or a new area would be refused
// by the API (422) while the dashboard offers it.
func TestAuditAreaEnumMatchesTheDomain(t *testing.T) {
	f, _ := reflect.TypeFor[auditInput]().FieldByName("Area")
	if got := strings.Split(f.Tag.Get("enum"), ","); !slices.Equal(got, audit.Areas) {
		t.Fatalf("auditInput.Area enum %v, audit.Areas %v", got, audit.Areas)
	}
}
