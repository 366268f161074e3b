package portal

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// UserStore is a read-only secondary user store (LDAP) under a domain name:
// its users log in as DOMAIN/name. BindPassword is a server secret: kept to
// bind, never shown, never logged.
type UserStore struct {
	ID              int64
	Tenant          string
	Domain          string
	URL             string
	BindDN          string
	BindPassword    string
	UserSearchBase  string
	UserFilter      string // entries that may log in, e.g. (objectClass=inetOrgPerson)
	UserAttribute   string // the attribute that holds the login name, e.g. uid
	GroupSearchBase string
	RoleMap         map[string]string // LDAP group (cn) to apistore role
	CreatedAt       time.Time
}

// StoreUser is the local account of a user store's user.
type StoreUser struct {
	ID              int64
	Username        string // DOMAIN/name
	Disabled        bool
	DisabledByStore bool // disabled because the store no longer has the user
}

// ParseRoleMap reads group=role pairs separated by spaces or commas, as
// the role_map column and apistore userstore add's --role-map hold them.
func ParseRoleMap(s string) map[string]string {
	m := map[string]string{}
	for _, pair := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if group, role, ok := strings.Cut(pair, "="); ok && group != "" && role != "" {
			m[group] = role
		}
	}
	return m
}

// JoinRoleMap writes m as ParseRoleMap reads it, in group order.
func JoinRoleMap(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for _, group := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, group+"="+m[group])
	}
	return strings.Join(pairs, " ")
}
