package oauth_test

import (
	"context"
	"testing"

	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/oauth"
)

// The core's hot paths over a real SQLite file; `make bench` runs them with
// -benchmem. Whole-server figures come from cmd/apistore-bench.

func benchServer(b *testing.B) (*oauth.Server, fixture.Key) {
	d, key := fixture.Docs(b)
	return oauth.NewServer(d, oauth.Validity{}, nil), key
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	srv, key := benchServer(b)
	b.SetParallelism(32) // 64 concurrent callers on 2 cores, as the load test's 64 connections
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := srv.Token(context.Background(), &oauth.TokenRequest{GrantType: "client_credentials",
				ClientID: key.ConsumerKey, ClientSecret: key.Secret, Scope: []string{"read"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTokenPassword(b *testing.B) {
	srv, key := benchServer(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := srv.Token(context.Background(), &oauth.TokenRequest{GrantType: "password",
				ClientID: key.ConsumerKey, ClientSecret: key.Secret, Username: "alice", Password: "alice-password"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	srv, key := benchServer(b)
	resp, err := srv.Token(context.Background(), &oauth.TokenRequest{GrantType: "client_credentials",
		ClientID: key.ConsumerKey, ClientSecret: key.Secret})
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := srv.Validate(context.Background(), resp.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRefresh(b *testing.B) {
	srv, key := benchServer(b)
	ctx := context.Background()
	first, err := srv.Token(ctx, &oauth.TokenRequest{GrantType: "password", ClientID: key.ConsumerKey, ClientSecret: key.Secret,
		Username: "alice", Password: "alice-password"})
	if err != nil {
		b.Fatal(err)
	}
	refresh := first.RefreshToken
	b.ResetTimer()
	for b.Loop() {
		next, err := srv.Token(ctx, &oauth.TokenRequest{GrantType: "refresh_token", ClientID: key.ConsumerKey,
			ClientSecret: key.Secret, RefreshToken: refresh})
		if err != nil {
			b.Fatal(err)
		}
		refresh = next.RefreshToken
	}
}

func BenchmarkRevoke(b *testing.B) {
	srv, key := benchServer(b)
	ctx := context.Background()
	tokens := make([]string, b.N)
	for i := range tokens {
		resp, err := srv.Token(ctx, &oauth.TokenRequest{GrantType: "client_credentials", ClientID: key.ConsumerKey, ClientSecret: key.Secret})
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = resp.AccessToken
	}
	b.ResetTimer()
	for i := range b.N {
		rev, err := srv.Revoke(ctx, &oauth.TokenHintRequest{Token: tokens[i], ClientID: key.ConsumerKey, ClientSecret: key.Secret})
		if err != nil || rev == nil {
			b.Fatal(err)
		}
	}
}
