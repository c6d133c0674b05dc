package auth

import (
	"fmt"
	"strings"
)

// Role is one of Airflow's roles, ordered: each one may do everything the
// roles below it may. The table of what each may do is in the README
// ("Users and roles") and enforced per route by package api.
type Role int

// The roles, lowest first. NoRole, the zero value, may do nothing, so a
// route or identity that forgot its role fails closed.
const (
	NoRole Role = iota
	// Viewer reads DAGs, runs, task instances, logs, XComs, pools and
	// import errors: everything but connections, variables, users and the
	// audit log.
	Viewer
	// User may also trigger, clear, mark and pause.
	User
	// Op may also read and write connections, variables and pools.
	Op
	// Admin may also manage users and read the audit log.
	Admin
)

// Public marks a route anyone may call, authenticated or not (/health,
// the OpenAPI document).
const Public Role = -1

var roleNames = map[Role]string{Public: "Public", NoRole: "None", Viewer: "Viewer", User: "User", Op: "Op", Admin: "Admin"}

// String returns the role's Airflow name.
func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Allows reports whether an identity with role r may call a route that
// needs min.
func (r Role) Allows(min Role) bool {
	if min == Public {
		return true
	}
	return r >= Viewer && r <= Admin && min >= Viewer && r >= min
}

// Roles lists the roles a user may have, lowest first.
func Roles() []Role { return []Role{Viewer, User, Op, Admin} }

// ParseRole reads a role name, case-insensitively.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if strings.EqualFold(strings.TrimSpace(s), r.String()) {
			return r, nil
		}
	}
	return NoRole, fmt.Errorf("role %q: want one of Viewer, User, Op, Admin", s)
}

// knownRole is ParseRole for stored names: whether the name is a role.
func knownRole(s string) (Role, bool) {
	r, err := ParseRole(s)
	return r, err == nil
}
