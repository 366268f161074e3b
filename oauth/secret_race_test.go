package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// replacingStore regenerates the key's secret just before a token is
// stored: the store's Regenerate secret committing while a token request
// that authenticated with the old secret is still being served.
type replacingStore struct {
	db.Store
	keyID int64
}

func (s replacingStore) replace(ctx context.Context) error {
	return s.ReplaceSecret(ctx, s.keyID, oauth.HashOf(oauth.NewSecret()))
}

func (s replacingStore) CreateToken(ctx context.Context, t *oauth.Token) error {
	if err := s.replace(ctx); err != nil {
		return err
	}
	return s.Store.CreateToken(ctx, t)
}

func (s replacingStore) RedeemCode(ctx context.Context, h oauth.Hash, t *oauth.Token) error {
	if err := s.replace(ctx); err != nil {
		return err
	}
	return s.Store.RedeemCode(ctx, h, t)
}

// TestNoTokenForAReplacedSecret: a token request authenticated with the old
// secret and still in flight when the secret is regenerated gets no token
// (invalid_client), since Regenerate secret promises that nothing obtained
// with the old secret keeps working; an authorization code it tried to
// redeem stays unused.
func TestNoTokenForAReplacedSecret(t *testing.T) {
	ctx := context.Background()
	d, key := fixture.Docs(t)
	alice, err := d.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	srv := oauth.NewServer(replacingStore{d, key.KeyID}, oauth.Validity{}, nil)
	code := oauth.NewSecret()
	now := time.Now()
	if err := d.CreateCode(ctx, &oauth.Code{Hash: oauth.HashOf(code), KeyID: key.KeyID, UserID: alice.ID,
		Scopes: []string{"default"}, IssuedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []oauth.TokenRequest{
		{GrantType: oauth.GrantClientCredentials},
		{GrantType: oauth.GrantPassword, Username: "alice", Password: "alice-password"},
		{GrantType: oauth.GrantAuthorizationCode, Code: code},
	} {
		secret := oauth.NewSecret() // a known secret, which the request presents
		if err := d.ReplaceSecret(ctx, key.KeyID, oauth.HashOf(secret)); err != nil {
			t.Fatal(err)
		}
		r.ClientID, r.ClientSecret = key.ConsumerKey, secret
		resp, oerr := srv.Token(ctx, &r)
		if oerr == nil {
			_, err := srv.Validate(ctx, resp.AccessToken)
			t.Errorf("%s: a token was issued for the replaced secret (validation: %v)", r.GrantType, err)
			continue
		}
		if oerr.Code != oauth.ErrCodeInvalidClient {
			t.Errorf("%s: error %v, want invalid_client", r.GrantType, oerr)
		}
	}
	c, err := d.CodeByHash(ctx, oauth.HashOf(code))
	if err != nil {
		t.Fatal(err)
	}
	if c.Used {
		t.Error("the code was spent on a refused exchange")
	}
}
