package dbtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// hostile turns a name that exists into text a client may send instead:
// usernames, consumer keys and scopes arrive from forms and headers.
var hostile = []struct {
	name string
	make func(base string) string
}{
	{"NUL after", func(b string) string { return b + "\x00" }},
	{"NUL inside", func(b string) string { return b[:1] + "\x00" + b[1:] }},
	{"invalid UTF-8 after", func(b string) string { return b + "\xff" }},
	{"invalid UTF-8 alone", func(string) string { return "\xff\xfe\xc3" }},
	{"10 KB", func(b string) string { return b + strings.Repeat("x", 10<<10) }},
}

func testHostileText(t *testing.T, s *suite) {
	d := s.store(t)
	w := build(t, d)
	if err := d.PutScope(t.Context(), "", oauth.Scope{Name: "read"}); err != nil {
		t.Fatal(err)
	}
	lookups := []struct {
		name string
		base string
		try  func(ctx context.Context, d db.Store, text string) (any, error)
	}{
		{"UserAccount", "alice", func(ctx context.Context, d db.Store, text string) (any, error) {
			return value(d.UserAccount(ctx, text))
		}},
		{"UserByName", "alice", func(ctx context.Context, d db.Store, text string) (any, error) { return value(d.UserByName(ctx, text)) }},
		{"DeleteUser", "alice", func(ctx context.Context, d db.Store, text string) (any, error) { return none(d.DeleteUser(ctx, text)) }},
		{"ClientByKey", w.key.ConsumerKey, func(ctx context.Context, d db.Store, text string) (any, error) {
			return value(d.ClientByKey(ctx, text))
		}},
		{"APIByContext, the context", w.api.Context, func(ctx context.Context, d db.Store, text string) (any, error) {
			return value(d.APIByContext(ctx, text, w.api.Version))
		}},
		{"APIByContext, the version", w.api.Version, func(ctx context.Context, d db.Store, text string) (any, error) {
			return value(d.APIByContext(ctx, w.api.Context, text))
		}},
	}
	for _, l := range lookups {
		for _, h := range hostile {
			t.Run(l.name+", "+h.name, func(t *testing.T) {
				v, err := l.try(t.Context(), d, h.make(l.base))
				if !errors.Is(err, oauth.ErrNotFound) {
					t.Errorf("error %v, want ErrNotFound", err)
				}
				if v != nil {
					t.Errorf("found %+v", v)
				}
			})
		}
	}
	for _, h := range hostile {
		t.Run("ScopesByName, "+h.name, func(t *testing.T) {
			got, err := d.ScopesByName(t.Context(), "", []string{h.make("read")})
			if err != nil || len(got) != 0 {
				t.Errorf("%+v, %v; want no scope", got, err)
			}
		})
	}
	t.Run("nothing was deleted nor found", func(t *testing.T) {
		if u, err := d.UserAccount(t.Context(), "alice"); err != nil || u.ID != w.alice.ID {
			t.Errorf("alice: %+v, %v", u, err)
		}
	})

	// Log-in counters are named after what a client sent: a typed username
	// ("u:" and the name), a consumer key, an address from a proxy's
	// header. Each counts under exactly its own bytes.
	for _, h := range []struct {
		name string
		key  string
		bug  Bug
	}{
		{"NUL after", "u:alice\x00", ""},
		{"NUL inside", "u:al\x00ice", ""},
		{"invalid UTF-8", "u:alice\xff", BugCounterKeyNotUTF8},
		{"10 KB", "u:alice" + strings.Repeat("x", 10<<10), ""},
	} {
		t.Run("log-in counter, "+h.name, func(t *testing.T) {
			if h.bug != "" {
				s.bug(t, h.bug)
			}
			d := s.store(t)
			ctx := t.Context()
			if _, err := d.SettleLogin(ctx, 0, []string{"u:alice"}, t0, t0.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got := counts(t, d, []string{h.key}, t0); got[0].Failures != 0 || got[0].Key != h.key {
				t.Fatalf("before any failure: %+v; another counter's failures", got[0])
			}
			id, _, err := d.ReserveLogin(ctx, []string{h.key}, t0, t0.Add(time.Minute), func(c []portal.LoginCount) bool {
				return c[0].Key == h.key && c[0].Failures == 0
			})
			if err != nil || id == 0 {
				t.Fatalf("ReserveLogin: %d, %v", id, err)
			}
			settled, err := d.SettleLogin(ctx, id, []string{h.key}, t0, t0.Add(-time.Hour))
			if err != nil || len(settled) != 1 || !sameCount(settled[0], portal.LoginCount{Key: h.key, Failures: 1, Last: t0}) {
				t.Fatalf("SettleLogin: %+v, %v", settled, err)
			}
			got := counts(t, d, []string{h.key, "u:alice"}, t0)
			if !sameCount(got[0], portal.LoginCount{Key: h.key, Failures: 1, Last: t0}) || got[1].Failures != 1 {
				t.Errorf("counters: %+v; want one failure under each", got)
			}
			if err := d.ClearLoginFailures(ctx, h.key); err != nil {
				t.Fatal(err)
			}
			if got := counts(t, d, []string{h.key, "u:alice"}, t0); got[0].Failures != 0 || got[1].Failures != 1 {
				t.Errorf("after clearing: %+v", got)
			}
		})
	}
}

// testHostileWrites: text a store cannot keep as it is (PostgreSQL's text
// holds neither NUL bytes nor invalid UTF-8) is refused with an error, or
// kept byte for byte; never changed on the way.
func testHostileWrites(t *testing.T, s *suite) {
	for _, h := range hostile {
		if h.name == "10 KB" {
			continue
		}
		t.Run(h.name, func(t *testing.T) {
			d := s.store(t)
			ctx := t.Context()
			owner := user(t, d, "owner")
			text := h.make("ok")
			for _, w := range []struct {
				name  string
				write func() error
				read  func() (string, error)
			}{
				{"a user's email", func() error {
					return d.CreateUser(ctx, &portal.User{User: oauth.User{Username: "writer", PasswordHash: "x"}, Email: text})
				}, func() (string, error) {
					u, err := d.UserAccount(ctx, "writer")
					if err != nil {
						return "", err
					}
					return u.Email, nil
				}},
				{"an application's description", func() error {
					return d.CreateApplication(ctx, &portal.Application{OwnerID: owner.ID, Name: "App", Description: text, Tier: "Gold"})
				}, func() (string, error) {
					list, err := d.ApplicationsByOwner(ctx, owner.ID)
					if err != nil || len(list) != 1 {
						return "", fmt.Errorf("applications: %+v, %v", list, err)
					}
					return list[0].Description, nil
				}},
				{"a scope's description", func() error {
					return d.PutScope(ctx, "", oauth.Scope{Name: "hostile", Description: text})
				}, func() (string, error) {
					list, err := d.ScopesByName(ctx, "", []string{"hostile"})
					if err != nil || len(list) != 1 {
						return "", fmt.Errorf("scopes: %+v, %v", list, err)
					}
					return list[0].Description, nil
				}},
				{"an API's description", func() error {
					a := newAPI("Hostile", "/hostile", "v1")
					a.Description = text
					return d.CreateAPI(ctx, a)
				}, func() (string, error) {
					a, err := d.APIByContext(ctx, "/hostile", "v1")
					if err != nil {
						return "", err
					}
					return a.Description, nil
				}},
			} {
				if err := w.write(); err != nil {
					continue // refused: fine
				}
				got, err := w.read()
				if err != nil || got != text {
					t.Errorf("%s: stored %q, read back %q (%v)", w.name, text, got, err)
				}
			}
		})
	}
}
