package oauth

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// oneClient is a Store holding one consumer key "k": all CheckAuthorize
// reads. Any other method would panic on the nil Store, which the fuzz
// target would report.
type oneClient struct {
	Store
	c *Client
}

func (o oneClient) ClientByKey(_ context.Context, key string) (*Client, error) {
	if key != o.c.ConsumerKey {
		return nil, ErrNotFound
	}
	return o.c, nil
}

// FuzzRedirectURIMatching: an authorization request is only ever answered
// by redirect to the registered callback URL, whatever redirect_uri and
// state it carries; the answer's URL keeps the callback's scheme, host and
// path, carries the state back unchanged, and holds no character that could
// split a Location header (RFC 9700 §4.1, §4.2).
func FuzzRedirectURIMatching(f *testing.F) {
	f.Add("https://client.example.com/cb", "https://client.example.com/cb", "xyz", true)
	f.Add("https://client.example.com/cb?x=1", "https://client.example.com/cb?x=1&y", "a b", false)
	f.Add("https://client.example.com/cb", "https://client.example.com/cb/../evil", "\r\nLocation: https://evil", true)
	f.Add("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/CB", "%0d%0a", false)
	f.Add("https://client.example.com/cb", "https://client.example.com.evil/cb", "st", true)
	f.Add("https://client.example.com/cb", "", "\xff\xfe", true)
	f.Fuzz(func(t *testing.T, callback, requested, state string, code bool) {
		if CheckRedirectURI(callback) != nil {
			return // the store and the command line refuse such callbacks
		}
		client := &Client{ConsumerKey: "k", CallbackURL: callback, GrantTypes: AllGrantTypes}
		s := NewServer(oneClient{c: client}, Validity{}, nil)
		r := &AuthorizeRequest{ResponseType: ResponseToken, ClientID: "k", RedirectURI: requested, State: state}
		if code {
			r.ResponseType = ResponseCode
		}
		a, _ := s.CheckAuthorize(context.Background(), r)
		if requested != "" && requested != callback && a != nil {
			t.Fatalf("redirect_uri %q accepted for callback %q", requested, callback)
		}
		if a == nil {
			return
		}
		answer := a.ErrorURL(ErrAccessDenied("denied"))
		if strings.ContainsAny(answer, "\r\n\x00 ") || !strings.HasPrefix(answer, callback) {
			t.Fatalf("answer %q for callback %q", answer, callback)
		}
		got, err := url.Parse(answer)
		want, _ := url.Parse(callback)
		if err != nil || got.Scheme != want.Scheme || got.Host != want.Host || got.Path != want.Path {
			t.Fatalf("answer %q leaves callback %q", answer, callback)
		}
		added, _ := url.ParseQuery(strings.TrimLeft(strings.TrimPrefix(answer, callback), "?&#"))
		if added.Get("error") != ErrCodeAccessDenied || added.Get("state") != state {
			t.Fatalf("answer %q: %v, want state %q", answer, added, state)
		}
	})
}
