package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// staffRoles stands in for Discord's roles: role 666 carries Administrator.
type staffRoles struct{}

func (staffRoles) SquadRoleProblem(_ context.Context, _, role int64) string {
	if role == 666 {
		return "“Admin” can moderate or run the server"
	}
	return ""
}

// A squad's role goes to whoever joins: the API refuses a staff role when
// it is chosen, at creation or by a patch, and names the field.
func TestSquadRoleMustNotBeStaff(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), ratelimit.Limit{}, func(d *api.Deps) { d.SquadRoles = staffRoles{} })
	g := "/api/v1/guilds/1"
	bad := r.do("POST", g+"/squads", r.admin, map[string]any{"name": "Admins", "role_id": "666"})
	r.fieldError(bad, "body.role_id")
	ok := r.expect(r.do("POST", g+"/squads", r.admin, map[string]any{"name": "Gophers", "role_id": "400"}), http.StatusCreated)
	id := ok.JSON["id"].(string)
	r.fieldError(r.do("PATCH", g+"/squads/"+id, r.admin, map[string]any{"role_id": "666"}), "body.role_id")
	if l := r.expect(r.do("GET", g+"/squads", r.read, nil), http.StatusOK); len(list(l.JSON["items"])) != 1 ||
		obj(list(l.JSON["items"])[0])["role_id"] != "400" {
		t.Fatalf("refused writes changed the squads: %s", l.Raw)
	}
	r.expect(r.do("PATCH", g+"/squads/"+id, r.admin, map[string]any{"description": "still fine"}), http.StatusOK)
}
