package dbtest

import (
	"errors"
	"maps"
	"testing"

	"github.com/apistore/apistore/portal"
)

func testUserStores(t *testing.T, s *suite) {
	corp := func() *portal.UserStore {
		return &portal.UserStore{Domain: "CORP", URL: "ldap://127.0.0.1:389", BindDN: "cn=apistore,dc=example,dc=org",
			BindPassword: "bind-secret", UserSearchBase: "ou=people,dc=example,dc=org", UserFilter: "(objectClass=person)",
			UserAttribute: "uid", GroupSearchBase: "ou=groups,dc=example,dc=org",
			RoleMap: map[string]string{"developers": "subscriber", "apiadmins": "admin"}}
	}
	t.Run("a user store is kept as given, in the super tenant, its domain unique in any case", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		us := corp()
		if err := d.CreateUserStore(ctx, us); err != nil || us.ID == 0 {
			t.Fatalf("CreateUserStore: %v, id %d", err, us.ID)
		}
		dup := corp()
		dup.Domain = "corp"
		if err := d.CreateUserStore(ctx, dup); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("same domain in another case: %v, want ErrConflict", err)
		}
		list, err := d.UserStores(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("UserStores: %+v, %v", list, err)
		}
		got, want := list[0], *corp()
		if got.ID != us.ID || got.Tenant != portal.SuperTenant || got.Domain != want.Domain || got.URL != want.URL ||
			got.BindDN != want.BindDN || got.BindPassword != want.BindPassword || got.UserSearchBase != want.UserSearchBase ||
			got.UserFilter != want.UserFilter || got.UserAttribute != want.UserAttribute ||
			got.GroupSearchBase != want.GroupSearchBase || !maps.Equal(got.RoleMap, want.RoleMap) || got.CreatedAt.IsZero() {
			t.Errorf("UserStores: %+v, want %+v", got, want)
		}
	})
	t.Run("a store user's account is made, its roles follow the store, and the store's disabling is undone by a log-in", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		us := corp()
		if err := d.CreateUserStore(ctx, us); err != nil {
			t.Fatal(err)
		}
		u, err := d.UpsertStoreUser(ctx, us.ID, "CORP/bob", []string{"subscriber"})
		if err != nil || u.ID == 0 || u.Username != "CORP/bob" || u.PasswordHash != "" || !sameWords(u.Roles, []string{"subscriber"}) {
			t.Fatalf("UpsertStoreUser: %+v, %v", u, err)
		}
		again, err := d.UpsertStoreUser(ctx, us.ID, "corp/BOB", []string{"admin", "subscriber"})
		if err != nil || again.ID != u.ID || !sameWords(again.Roles, []string{"admin", "subscriber"}) {
			t.Fatalf("UpsertStoreUser again: %+v, %v", again, err)
		}
		if roles, err := d.UserRoles(ctx, u.ID); err != nil || !sameWords(roles, []string{"admin", "subscriber"}) {
			t.Errorf("UserRoles: %v, %v", roles, err)
		}
		primary := user(t, d, "carol")
		if _, err := d.UpsertStoreUser(ctx, us.ID, "carol", nil); !errors.Is(err, portal.ErrConflict) {
			t.Errorf("a primary user's name: %v, want ErrConflict", err)
		}
		_ = primary
		list, err := d.StoreUsers(ctx, us.ID)
		if err != nil || len(list) != 1 || list[0].ID != u.ID || list[0].Username != "CORP/bob" || list[0].Disabled || list[0].DisabledByStore {
			t.Fatalf("StoreUsers: %+v, %v", list, err)
		}
		// The sync disables the account, then marks it.
		if _, _, err := d.DisableUser(ctx, "CORP/bob", t0); err != nil {
			t.Fatal(err)
		}
		if err := d.SetDisabledByStore(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		list, err = d.StoreUsers(ctx, us.ID)
		if err != nil || len(list) != 1 || !list[0].Disabled || !list[0].DisabledByStore {
			t.Fatalf("StoreUsers after the sync: %+v, %v", list, err)
		}
		back, err := d.UpsertStoreUser(ctx, us.ID, "CORP/bob", []string{"subscriber"})
		if err != nil || back.Disabled {
			t.Fatalf("a log-in after the store's disabling: %+v, %v", back, err)
		}
		// An administrator's disabling outlasts a log-in through the store.
		if _, _, err := d.DisableUser(ctx, "CORP/bob", t0); err != nil {
			t.Fatal(err)
		}
		stays, err := d.UpsertStoreUser(ctx, us.ID, "CORP/bob", []string{"subscriber"})
		if err != nil || !stays.Disabled {
			t.Errorf("a log-in after an administrator's disabling: %+v, %v", stays, err)
		}
		if err := d.SetDisabledByStore(ctx, primary.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("SetDisabledByStore of a primary user: %v, want ErrNotFound", err)
		}
	})
}
