package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// hostile are strings PostgreSQL's text refuses and SQLite's keeps.
var hostile = map[string]string{"NUL byte": "alice\x00", "invalid UTF-8": "alice\xff\xfe"}

// TestHostileLookupsFindNothing: a lookup by text PostgreSQL cannot hold
// answers ErrNotFound, as SQLite does, where a server error would be a 500
// to whoever sent it.
func TestHostileLookupsFindNothing(t *testing.T) {
	d := open(t, newDatabase(t))
	ctx := context.Background()
	f := newFixture(t, d)
	if err := d.CreateAPI(ctx, &portal.API{Name: "Pizza", Version: "v1", Context: "/pizza"}); err != nil {
		t.Fatal(err)
	}
	if err := d.PutScope(ctx, "", oauth.Scope{Name: "read"}); err != nil {
		t.Fatal(err)
	}
	for what, s := range hostile {
		lookups := map[string]func() error{
			"UserAccount":  func() error { _, err := d.UserAccount(ctx, s); return err },
			"UserByName":   func() error { _, err := d.UserByName(ctx, s); return err },
			"ClientByKey":  func() error { _, err := d.ClientByKey(ctx, s); return err },
			"APIByContext": func() error { _, err := d.APIByContext(ctx, "/pizza", s); return err },
			"DeleteUser":   func() error { return d.DeleteUser(ctx, s) },
		}
		for name, lookup := range lookups {
			if err := lookup(); !errors.Is(err, oauth.ErrNotFound) {
				t.Errorf("%s with a %s: %v, want ErrNotFound", name, what, err)
			}
		}
		got, err := d.ScopesByName(ctx, "", []string{"read", s})
		if err != nil || len(got) != 1 || got[0].Name != "read" {
			t.Errorf("ScopesByName with a %s: %v, %v; want the registered scope alone", what, got, err)
		}
	}
	// The user is still there, found by name.
	if _, err := d.UserAccount(ctx, f.user.Username); err != nil {
		t.Fatal(err)
	}
}

// TestHostileWritesAreRefused: a write of text PostgreSQL cannot store
// fails with ErrInvalidText, and stores nothing.
func TestHostileWritesAreRefused(t *testing.T) {
	d := open(t, newDatabase(t))
	ctx := context.Background()
	f := newFixture(t, d)
	for what, s := range hostile {
		writes := map[string]func() error{
			"CreateUser": func() error {
				return d.CreateUser(ctx, &portal.User{User: oauth.User{Username: s, PasswordHash: "x"}})
			},
			"CreateApplication": func() error {
				return d.CreateApplication(ctx, &portal.Application{OwnerID: f.user.ID, Name: s, Tier: "Gold"})
			},
			"UpdateApplication": func() error {
				return d.UpdateApplication(ctx, &portal.Application{ID: f.key.AppID, OwnerID: f.user.ID, Name: "App", Description: s})
			},
			"PutScope": func() error { return d.PutScope(ctx, "", oauth.Scope{Name: s}) },
			"CreateAPI": func() error {
				return d.CreateAPI(ctx, &portal.API{Name: s, Version: "v1", Context: "/hostile"})
			},
			"Subscribe": func() error { return d.Subscribe(ctx, f.key.AppID, 1, s) },
			"UpdateKeySettings": func() error {
				return d.UpdateKeySettings(ctx, f.key.KeyID, []string{s}, "", time.Hour)
			},
			"RecordUsage": func() error {
				return d.RecordUsage(ctx, []portal.Usage{{At: time.Now(), AppID: 1, APIID: 1, APIName: s}})
			},
		}
		for name, write := range writes {
			if err := write(); !errors.Is(err, ErrInvalidText) {
				t.Errorf("%s with a %s: %v, want ErrInvalidText", name, what, err)
			}
		}
	}
	if apps, err := d.ApplicationsByOwner(ctx, f.user.ID); err != nil || len(apps) != 1 || apps[0].Description != "" {
		t.Errorf("applications after refused writes: %+v, %v", apps, err)
	}
}

// TestHostileCounterKeys: a brute-force counter keyed by what a client
// typed counts whatever bytes it holds (its key is BYTEA), so a guess with
// a NUL byte or invalid UTF-8 in the username is counted like any other,
// under that exact key.
func TestHostileCounterKeys(t *testing.T) {
	d := open(t, newDatabase(t))
	ctx := context.Background()
	now := time.Now()
	for what, s := range hostile {
		key := "u:" + s
		id, _, err := d.ReserveLogin(ctx, []string{key, "a:192.0.2.1"}, now, now.Add(time.Minute),
			func([]portal.LoginCount) bool { return true })
		if err != nil || id == 0 {
			t.Fatalf("ReserveLogin with a %s: %d, %v", what, id, err)
		}
		counts, err := d.SettleLogin(ctx, id, []string{key}, now, now.Add(-time.Hour))
		if err != nil || len(counts) != 1 || counts[0].Key != key || counts[0].Failures != 1 {
			t.Fatalf("SettleLogin with a %s: %+v, %v", what, counts, err)
		}
		counts, err = d.LoginCounts(ctx, []string{key, "u:alice"}, now)
		if err != nil || counts[0].Failures != 1 || counts[1].Failures != 0 {
			t.Errorf("LoginCounts with a %s: %+v, %v; want its failure under its own key only", what, counts, err)
		}
		if err := d.ClearLoginFailures(ctx, key); err != nil {
			t.Error(err)
		}
	}
	// Audit events are clipped to storable text.
	if err := d.RecordAudit(ctx, &portal.AuditEvent{At: now, Event: portal.AuditLoginFailed, Username: hostile["NUL byte"]}); err != nil {
		t.Errorf("RecordAudit of a hostile username: %v", err)
	}
}
