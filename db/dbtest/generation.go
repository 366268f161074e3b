package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// change is a write made through one handle of a store holding a world,
// after setup (if any), whose effect is not watched.
type change struct {
	name  string
	setup func(ctx context.Context, d db.Store, w *world) error
	do    func(ctx context.Context, d db.Store, w *world) error
}

// endsOrGrantsAccess are the writes that change what a cache of
// validations (db/cache.go, the gateway's snapshot) may hold: each must
// start a new access generation (db.Freshness).
var endsOrGrantsAccess = []change{
	{"SetTenantActive", func(ctx context.Context, d db.Store, w *world) error {
		return d.CreateTenant(ctx, &portal.Tenant{Domain: "gen.example"}, &portal.User{User: oauth.User{Username: "admin"}})
	}, func(ctx context.Context, d db.Store, w *world) error {
		return d.SetTenantActive(ctx, "gen.example", false)
	}},
	{"RevokeToken", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RevokeToken(ctx, w.aliceToken.AccessHash)
	}},
	{"RevokeFamily", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RevokeFamily(ctx, w.aliceToken.FamilyID)
	}},
	{"ReplaceSecret", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.ReplaceSecret(ctx, w.key.KeyID, oauth.HashOf("new"))
	}},
	{"RevokeApplicationTokens", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RevokeApplicationTokens(ctx, w.key.KeyID)
	}},
	{"UpdateKeySettings", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.UpdateKeySettings(ctx, w.key.KeyID, []string{oauth.GrantClientCredentials}, "", time.Hour)
	}},
	{"RevokeConsent", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RevokeConsent(ctx, w.bob.ID, w.key.AppID)
	}},
	{"DeleteUser", nil, func(ctx context.Context, d db.Store, w *world) error { return d.DeleteUser(ctx, "bob") }},
	{"DeleteApplication", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.DeleteApplication(ctx, w.alice.ID, w.key.AppID)
	}},
	{"SetApplicationDPoP", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.SetApplicationDPoP(ctx, w.alice.ID, w.key.AppID, true)
	}},
	{"UpdateApplication (its tier)", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.UpdateApplication(ctx, &portal.Application{ID: w.key.AppID, OwnerID: w.alice.ID, Name: "App", Tier: "Bronze"})
	}},
	{"Subscribe", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.Subscribe(ctx, w.other.AppID, w.api.ID, "Gold")
	}},
	{"Unsubscribe", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.Unsubscribe(ctx, w.key.AppID, w.api.ID)
	}},
	{"CreateAPI", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.CreateAPI(ctx, newAPI("Pasta", "/pasta", "v1"))
	}},
	{"ImportAPI", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.ImportAPI(ctx, newAPI("Pasta", "/pasta", "v1"), []oauth.Scope{{Name: "order"}})
	}},
	{"UpdateAPI", nil, func(ctx context.Context, d db.Store, w *world) error {
		a := *w.api
		a.Resources = []portal.Resource{{Method: "GET", Path: "/menu", Scope: "read"}}
		return d.UpdateAPI(ctx, &a, nil)
	}},
	{"SetAPIStatus", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.SetAPIStatus(ctx, w.api.ID, portal.APIRetired)
	}},
	{"SeedSample", nil, func(ctx context.Context, d db.Store, w *world) error { return d.SeedSample(ctx) }},
	{"PutScope (a new one)", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.PutScope(ctx, "", oauth.Scope{Name: "write"})
	}},
	{"PutScope (new roles)", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.PutScope(ctx, "", oauth.Scope{Name: "read", Roles: []string{"admin"}})
	}},
	{"PutTier (a tenant's limit of a tier)", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.PutTier(ctx, portal.Tier{TenantID: portal.SuperTenantID, Name: "Gold", RPM: 1})
	}},
	{"DeleteStaleTokens of a token not revoked", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteStaleTokens(ctx, t0.Add(48*time.Hour))
		return err
	}},
}

// keepAccess are the writes that change nothing a cache of validations
// holds, the bulk of all commits: they must keep the access generation, or
// the caches would be dropped for nothing.
var keepAccess = []change{
	// A DPoP proof is recorded on every call of a bound token: were it to
	// move the generation, every call would empty the gateway's caches.
	{"UseProof", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.UseProof(ctx, oauth.HashOf("proof"), t0.Add(time.Minute))
		return err
	}},
	{"DeleteStaleProofs", func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.UseProof(ctx, oauth.HashOf("proof"), t0.Add(time.Minute))
		return err
	}, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteStaleProofs(ctx, t0.Add(time.Hour))
		return err
	}},
	{"CreateToken", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.CreateToken(ctx, token(w.key, w.alice, oauth.GrantPassword))
	}},
	{"CreateTokens", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.CreateTokens(ctx, []*oauth.Token{token(w.key, w.alice, oauth.GrantPassword)})
	}},
	{"RotateRefresh", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RotateRefresh(ctx, w.aliceToken.RefreshHash, successor(w.aliceToken))
	}},
	{"CreateCode", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.CreateCode(ctx, &oauth.Code{Hash: oauth.HashOf("new code"), KeyID: w.key.KeyID, UserID: w.bob.ID,
			Scopes: []string{"read"}, IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)})
	}},
	{"RedeemCode", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RedeemCode(ctx, w.bobCode.Hash, codeToken(w.key, w.bobCode))
	}},
	{"DeleteStaleCodes", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteStaleCodes(ctx, t0.Add(time.Hour))
		return err
	}},
	{"DeleteStaleTokens of revoked tokens only", func(ctx context.Context, d db.Store, w *world) error {
		return d.RevokeToken(ctx, w.aliceToken.AccessHash)
	}, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteStaleTokens(ctx, t0) // only the revoked token is stale at t0
		return err
	}},
	{"CreateSession", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.CreateSession(ctx, oauth.HashOf("new session"), w.alice.ID, t0, t0.Add(time.Hour))
	}},
	{"DeleteSession", nil, func(ctx context.Context, d db.Store, w *world) error { return d.DeleteSession(ctx, w.aliceSession) }},
	{"AddSigningKey", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.AddSigningKey(ctx, &oauth.SigningKey{ID: "k", Private: []byte("key"), CreatedAt: t0}, true)
	}},
	{"KeepSigningKey", func(ctx context.Context, d db.Store, w *world) error {
		return d.AddSigningKey(ctx, &oauth.SigningKey{ID: "k", Private: []byte("key"), CreatedAt: t0}, false)
	}, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.KeepSigningKey(ctx, "k", t0.Add(time.Hour))
		return err
	}},
	{"SessionKeys", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.SessionKeys(ctx, []byte("keys"))
		return err
	}},
	{"SaveConsent", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.SaveConsent(ctx, &portal.Consent{UserID: w.alice.ID, AppID: w.key.AppID, Scopes: []string{"read"}, Remember: true, ApprovedAt: t0})
	}},
	{"RecordUsage", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RecordUsage(ctx, []portal.Usage{call(w.key.AppID, 0)})
	}},
	{"DeleteUsageBefore", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteUsageBefore(ctx, t0.Add(time.Hour))
		return err
	}},
	{"RecordAudit", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.RecordAudit(ctx, &portal.AuditEvent{At: t0, Event: portal.AuditLogin, Username: "alice"})
	}},
	{"DeleteAuditBefore", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteAuditBefore(ctx, t0.Add(time.Hour))
		return err
	}},
	{"ReserveLogin and SettleLogin", nil, func(ctx context.Context, d db.Store, w *world) error {
		id, _, err := d.ReserveLogin(ctx, []string{"u:alice"}, t0, t0.Add(time.Minute), func([]portal.LoginCount) bool { return true })
		if err != nil {
			return err
		}
		_, err = d.SettleLogin(ctx, id, []string{"u:alice"}, t0, t0.Add(-time.Hour))
		return err
	}},
	{"ClearLoginFailures", nil, func(ctx context.Context, d db.Store, w *world) error { return d.ClearLoginFailures(ctx, "u:alice") }},
	{"DeleteStaleLoginCounts", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteStaleLoginCounts(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
		return err
	}},
	{"TakeQuota", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.TakeQuota(ctx, portal.QuotaKey{AppID: w.key.AppID, APIID: w.api.ID, KeyType: "PRODUCTION"}, t0, 1, 10)
		return err
	}},
	{"DeleteQuotasBefore", nil, func(ctx context.Context, d db.Store, w *world) error {
		_, err := d.DeleteQuotasBefore(ctx, t0.Add(time.Hour))
		return err
	}},
	{"PointSampleAPI without a sample", nil, func(ctx context.Context, d db.Store, w *world) error {
		return d.PointSampleAPI(ctx, "http://127.0.0.1:1")
	}},
}

func testGeneration(t *testing.T, s *suite) {
	// Each change is made through one handle and seen through both: the
	// other stands for another process or node. Each handle's generation
	// is read first, so a handle that keeps the last value it read is
	// caught.
	run := func(t *testing.T, ch change, wantChanged bool) {
		d, again := s.open(t)
		other := again(t)
		w := build(t, d)
		ctx := t.Context()
		if ch.setup != nil {
			if err := ch.setup(ctx, d, w); err != nil {
				t.Fatal(err)
			}
		}
		before := []uint64{generation(t, d), generation(t, other)}
		if err := ch.do(ctx, d, w); err != nil {
			t.Fatalf("%s: %v", ch.name, err)
		}
		for i, h := range []db.Store{d, other} {
			after := generation(t, h)
			if changed := after != before[i]; changed != wantChanged {
				if wantChanged {
					t.Errorf("handle %d: the generation stayed at %d: caches would serve what %s ended", i, after, ch.name)
				} else {
					t.Errorf("handle %d: the generation moved from %d to %d: caches would be dropped for nothing", i, before[i], after)
				}
			}
		}
	}
	t.Run("must change", func(t *testing.T) {
		for _, ch := range endsOrGrantsAccess {
			t.Run(ch.name, func(t *testing.T) { run(t, ch, true) })
		}
	})
	t.Run("must not change", func(t *testing.T) {
		for _, ch := range keepAccess {
			t.Run(ch.name, func(t *testing.T) { run(t, ch, false) })
		}
	})
	t.Run("stays put without writes", func(t *testing.T) {
		d := s.store(t)
		build(t, d)
		first := generation(t, d)
		if _, err := d.PublishedAPIs(t.Context()); err != nil {
			t.Fatal(err)
		}
		if again := generation(t, d); again != first {
			t.Errorf("the generation moved from %d to %d without a write", first, again)
		}
	})
}
