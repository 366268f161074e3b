package dbtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// missing is a lookup, or a write to something, that is not there: it
// must fail with a wrapped oauth.ErrNotFound, never answer (nil, nil).
type missing struct {
	name string
	// try returns the value found, if any, and the error.
	try func(ctx context.Context, d db.Store, w *world) (any, error)
}

// value turns a lookup's result into missing.try's: a nil pointer is nil.
func value[V any](v *V, err error) (any, error) {
	if v == nil {
		return nil, err
	}
	return v, err
}

// none is missing.try's result of a write.
func none(err error) (any, error) { return nil, err }

var missings = []missing{
	{"UserAccount of an unknown name", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.UserAccount(ctx, "nobody"))
	}},
	{"UserByName of an unknown name", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.UserByName(ctx, "nobody"))
	}},
	{"UserByID of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.UserByID(ctx, 999_999))
	}},
	{"UserRoles of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		roles, err := d.UserRoles(ctx, 999_999)
		if roles != nil {
			return roles, err
		}
		return nil, err
	}},
	{"DeleteUser of an unknown name", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.DeleteUser(ctx, "nobody"))
	}},
	{"SessionUser of an unknown session", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.SessionUser(ctx, oauth.HashOf("unknown"), t0))
	}},
	{"OwnedApplication of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.OwnedApplication(ctx, w.alice.ID, 999_999))
	}},
	{"OwnedApplication of another owner's", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.OwnedApplication(ctx, w.alice.ID, w.bobKey.AppID))
	}},
	{"UpdateApplication of another owner's", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.UpdateApplication(ctx, &portal.Application{ID: w.bobKey.AppID, OwnerID: w.alice.ID, Name: "Mine", Tier: "Gold"}))
	}},
	{"DeleteApplication of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.DeleteApplication(ctx, w.alice.ID, 999_999))
	}},
	{"DeleteApplication of another owner's", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.DeleteApplication(ctx, w.alice.ID, w.bobKey.AppID))
	}},
	{"ClientByKey of an unknown key", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.ClientByKey(ctx, "unknown"))
	}},
	{"ClientByKey of a key in another case", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.ClientByKey(ctx, swapCase(w.key.ConsumerKey)))
	}},
	{"ReplaceSecret of an unknown key", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.ReplaceSecret(ctx, 999_999, oauth.HashOf("x")))
	}},
	{"UpdateKeySettings of an unknown key", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.UpdateKeySettings(ctx, 999_999, oauth.DefaultGrantTypes, "", time.Hour))
	}},
	{"APIByID of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.APIByID(ctx, 999_999))
	}},
	{"APIByContext of an unknown context", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.APIByContext(ctx, "/unknown", "v1"))
	}},
	{"APIByContext of an unknown version", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.APIByContext(ctx, w.api.Context, "v9"))
	}},
	{"SetAPIStatus of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.SetAPIStatus(ctx, 999_999, portal.APIRetired))
	}},
	{"UpdateAPI of an unknown id", func(ctx context.Context, d db.Store, w *world) (any, error) {
		a := newAPI("Ghost", "/ghost", "v1")
		a.ID, a.Status = 999_999, portal.APIPublished
		return none(d.UpdateAPI(ctx, a, nil))
	}},
	{"Unsubscribe of an application not subscribed", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.Unsubscribe(ctx, w.other.AppID, w.api.ID))
	}},
	{"SubscriptionTier of an application not subscribed", func(ctx context.Context, d db.Store, w *world) (any, error) {
		id, tier, err := d.SubscriptionTier(ctx, w.other.AppID, w.api.ID)
		if id != 0 || tier != "" {
			return fmt.Sprint(id, tier), err
		}
		return nil, err
	}},
	{"RememberedScopes without a consent", func(ctx context.Context, d db.Store, w *world) (any, error) {
		scopes, err := d.RememberedScopes(ctx, w.alice.ID, w.key.AppID)
		if scopes != nil {
			return scopes, err
		}
		return nil, err
	}},
	{"RememberedScopes of a consent not remembered", func(ctx context.Context, d db.Store, w *world) (any, error) {
		if err := d.SaveConsent(ctx, &portal.Consent{UserID: w.alice.ID, AppID: w.other.AppID, Scopes: []string{"read"}, ApprovedAt: t0}); err != nil {
			return nil, err
		}
		scopes, err := d.RememberedScopes(ctx, w.alice.ID, w.other.AppID)
		if scopes != nil {
			return scopes, err
		}
		return nil, err
	}},
	{"RevokeConsent without a consent", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return none(d.RevokeConsent(ctx, w.bob.ID, w.other.AppID))
	}},
	{"AccessToken of an unknown hash", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.AccessToken(ctx, oauth.HashOf("unknown")))
	}},
	{"AccessToken of a refresh hash", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.AccessToken(ctx, w.aliceToken.RefreshHash))
	}},
	{"RefreshToken of an access hash", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.RefreshToken(ctx, w.aliceToken.AccessHash))
	}},
	{"RefreshTokenInfo of an unknown hash", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.RefreshTokenInfo(ctx, oauth.HashOf("unknown")))
	}},
	{"CodeByHash of an unknown hash", func(ctx context.Context, d db.Store, w *world) (any, error) {
		return value(d.CodeByHash(ctx, oauth.HashOf("unknown")))
	}},
}

func testNotFound(t *testing.T, s *suite) {
	d := s.store(t)
	w := build(t, d)
	before := generation(t, d)
	for _, m := range missings {
		t.Run(m.name, func(t *testing.T) {
			v, err := m.try(t.Context(), d, w)
			if !errors.Is(err, oauth.ErrNotFound) {
				t.Errorf("error %v, want ErrNotFound", err)
			}
			if v != nil {
				t.Errorf("returned %+v with the error", v)
			}
		})
	}
	// A change refused for want of its row changes nothing cached.
	if generation(t, d) != before {
		t.Error("the refused changes moved the access generation")
	}
}

// swapCase turns the lower-case letters of s upper-case and the others
// lower-case: consumer keys are case-sensitive.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if l := unicode.ToLower(r); l != r {
			return l
		}
		return unicode.ToUpper(r)
	}, s)
}
