package dbtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// testMutualTLS: an application's certificate authentication (RFC 8705
// §2) and certificate-bound tokens (§3) read back as stored.
func testMutualTLS(t *testing.T, s *suite) {
	t.Run("a certificate-bound token reads back with its thumbprint", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, _ := fixture.App(t, d, alice, "App")
		bound, plain := token(key, alice, oauth.GrantPassword), token(key, alice, oauth.GrantClientCredentials)
		bound.CertThumbprint = oauth.HashOf("a certificate's DER")
		save(t, d, bound, plain)
		next := successor(bound)
		next.CertThumbprint = oauth.HashOf("another certificate's DER")
		if err := d.RotateRefresh(ctx, bound.RefreshHash, next); err != nil {
			t.Fatal(err)
		}
		for _, want := range []*oauth.Token{bound, plain, next} {
			info, err := d.AccessToken(ctx, want.AccessHash)
			if err != nil || info.CertThumbprint != want.CertThumbprint {
				t.Errorf("AccessToken: thumbprint %v, %v; want %v", info.CertThumbprint, err, want.CertThumbprint)
			}
		}
		r, err := d.RefreshToken(ctx, next.RefreshHash)
		if err != nil || r.CertThumbprint != next.CertThumbprint {
			t.Errorf("RefreshToken: %+v, %v", r, err)
		}
		ri, err := d.RefreshTokenInfo(ctx, next.RefreshHash)
		if err != nil || ri.CertThumbprint != next.CertThumbprint {
			t.Errorf("RefreshTokenInfo: %+v, %v", ri, err)
		}
	})

	t.Run("an application's certificate authentication is its keys'", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t) // another node, with its own cache
		ctx := t.Context()
		alice := user(t, d, "alice")
		key, sandbox := fixture.App(t, d, alice, "App")
		otherApp, _ := fixture.App(t, d, alice, "Other")
		for _, k := range []fixture.Key{key, sandbox, otherApp} { // cached with no registration
			if c, err := other.ClientByKey(ctx, k.ConsumerKey); err != nil || c.TLSAuth.Method != "" || c.TLSAuth.Certs != nil {
				t.Fatalf("before: %+v, %v", c, err)
			}
		}
		regs := []oauth.TLSAuth{
			{Method: oauth.AuthTLSClient, SubjectKind: oauth.SubjectDN, Subject: "CN=client,O=Acme"},
			{Method: oauth.AuthSelfSignedTLS, Certs: []oauth.Hash{oauth.HashOf("one"), oauth.HashOf("two")}, CertsPEM: "-----BEGIN CERTIFICATE-----\n…"},
			{},
		}
		for _, reg := range regs {
			if err := d.SetApplicationTLSAuth(ctx, key.AppID, reg); err != nil {
				t.Fatal(err)
			}
			for _, k := range []fixture.Key{key, sandbox} {
				for name, st := range map[string]oauth.ClientStore{"this node": d, "another node": other} {
					c, err := st.ClientByKey(ctx, k.ConsumerKey)
					if err != nil || !sameTLSAuth(c.TLSAuth, reg) {
						t.Errorf("%s, %s key after %+v: %+v, %v", name, k.KeyType, reg, c, err)
					}
				}
			}
			// The store's page reads it with the application.
			if a, err := other.OwnedApplication(ctx, alice.ID, key.AppID); err != nil || !sameTLSAuth(a.TLSAuth, reg) || a.TLSAuth.CertsPEM != reg.CertsPEM {
				t.Errorf("OwnedApplication after %+v: %+v, %v", reg, a, err)
			}
			if apps, err := d.ApplicationsByOwner(ctx, alice.ID); err != nil || len(apps) != 2 || !sameTLSAuth(apps[0].TLSAuth, reg) || apps[1].TLSAuth.Method != "" {
				t.Errorf("ApplicationsByOwner after %+v: %+v, %v", reg, apps, err)
			}
			if c, err := other.ClientByKey(ctx, otherApp.ConsumerKey); err != nil || c.TLSAuth.Method != "" {
				t.Errorf("another application: %+v, %v", c, err)
			}
		}
		if err := d.SetApplicationTLSAuth(ctx, otherApp.AppID+1000, regs[0]); !errors.Is(err, portal.ErrNotFound) {
			t.Errorf("an unknown application: %v, want ErrNotFound", err)
		}
	})
}

// sameTLSAuth compares registrations; no certificates and an empty list
// are the same.
func sameTLSAuth(a, b oauth.TLSAuth) bool {
	return a.Method == b.Method && a.SubjectKind == b.SubjectKind && a.Subject == b.Subject &&
		len(a.Certs) == len(b.Certs) && (len(a.Certs) == 0 || slices.Equal(a.Certs, b.Certs))
}
