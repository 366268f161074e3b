package oauth_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

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

// BenchmarkRefresh rotates one chain, without and with the refresh grace
// period (which seals each answer and stores it beside the rotation), in
// one run so the two compare.
func BenchmarkRefresh(b *testing.B) {
	for _, grace := range []time.Duration{0, oauth.DefaultRefreshGrace} {
		b.Run("grace="+grace.String(), func(b *testing.B) {
			srv, key := benchServer(b)
			srv.RefreshGrace(grace)
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
		})
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

// scopeNames is a scope parameter of n distinct names.
func scopeNames(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "scope" + strconv.Itoa(i)
	}
	return strings.Join(names, " ")
}

// BenchmarkParseScope shows that parsing a scope parameter costs the same
// per name however many there are (ns/name stays flat from 10 to 64,000
// names); it used to grow with their number, 11 s of CPU for 64,000.
func BenchmarkParseScope(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10_000, 64_000} {
		s := scopeNames(n)
		b.Run("names="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if len(oauth.ParseScope(s)) != n {
					b.Fatal("names lost")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/name")
		})
	}
}

// BenchmarkParseTokenRequestScopes: a token request naming the most
// scopes allowed, and one naming far more, which is refused after a count
// that allocates nothing.
func BenchmarkParseTokenRequestScopes(b *testing.B) {
	for _, n := range []int{oauth.MaxScopes, 8000} {
		body := "grant_type=client_credentials&scope=" + url.QueryEscape(scopeNames(n))
		b.Run("names="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				_, oerr := oauth.ParseTokenRequest("application/x-www-form-urlencoded", "Basic a2V5OnNlY3JldA==", body)
				if (oerr == nil) != (n <= oauth.MaxScopes) {
					b.Fatal(oerr)
				}
			}
		})
	}
}
