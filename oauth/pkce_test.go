package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"testing"
)

// FuzzPKCE checks that a verifier matches exactly its own S256 and plain
// challenges, and that nothing panics on arbitrary input.
func FuzzPKCE(f *testing.F) {
	f.Add("dBjftJeZ4CVP-mJ0d6YtiDzC2n9wKjO8DzqwsPFwShcAA", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	f.Add("short", "")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, verifier, other string) {
		sum := sha256.Sum256([]byte(verifier))
		s256 := base64.RawURLEncoding.EncodeToString(sum[:])
		wellFormed := pkceValue.MatchString(verifier)
		codes := []Code{{Challenge: s256, ChallengeMethod: PKCES256}}
		if verifier != "" {
			codes = append(codes, Code{Challenge: verifier, ChallengeMethod: PKCEPlain})
		}
		for _, c := range codes {
			if _, oerr := checkChallenge(c.Challenge, c.ChallengeMethod); oerr != nil && c.ChallengeMethod == PKCES256 {
				t.Fatalf("S256 challenge %q refused: %v", c.Challenge, oerr)
			}
			if got := verifyPKCE(&c, verifier) == nil; got != wellFormed {
				t.Fatalf("verify(%q) with %s = %v, want %v", verifier, c.ChallengeMethod, got, wellFormed)
			}
			if other != verifier && verifyPKCE(&c, other) == nil {
				t.Fatalf("verifier %q matched the challenge of %q", other, verifier)
			}
		}
		if verifyPKCE(&Code{}, verifier) == nil && verifier != "" {
			t.Fatal("a verifier was accepted for a code without a challenge")
		}
	})
}

// FuzzParseAuthorizeRequest checks that parsing never panics and that a
// parsed request survives the trip through the login and consent forms.
func FuzzParseAuthorizeRequest(f *testing.F) {
	f.Add("response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fa.example%2Fcb&scope=read+write&state=x;y")
	f.Add("response_type=token&client_id=a&client_id=b")
	f.Add("code_challenge=%zz&scope=%20%20a%20a")
	f.Fuzz(func(t *testing.T, query string) {
		r, oerr := ParseAuthorizeRequest(query)
		if oerr != nil {
			return
		}
		again, oerr := ParseAuthorizeRequest(r.Values().Encode())
		if oerr != nil || !reflect.DeepEqual(r, again) {
			t.Fatalf("%q: %+v became %+v (%v)", query, r, again, oerr)
		}
	})
}
