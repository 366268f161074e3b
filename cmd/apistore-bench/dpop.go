package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/apistore/apistore/internal/dpopkey"
	"github.com/apistore/apistore/oauth"
)

// serverURL is u as the server names itself: the tool dials 127.0.0.1
// where the server's URLs say localhost, and a proof names the server's.
func serverURL(u string) string { return strings.Replace(u, "//127.0.0.1:", "//localhost:", 1) }

// prepareDPoPValidation is gateway_validation with a DPoP-bound token: each
// call signs a fresh proof, and the gateway verifies it and records its jti
// before its other checks.
func prepareDPoPValidation(ctx context.Context, r *runSpec) (call, error) {
	key, err := dpopkey.New()
	if err != nil {
		return nil, err
	}
	tokenURL := r.d.nodes[0].api + "/token"
	proof, err := key.Sign(dpopkey.NewClaims(http.MethodPost, serverURL(tokenURL), "", time.Now()))
	if err != nil {
		return nil, err
	}
	raw, err := request(ctx, http.DefaultClient, http.MethodPost, tokenURL, "grant_type=client_credentials&scope=read",
		r.d.basic, http.StatusOK, "DPoP", proof)
	if err != nil {
		return nil, err
	}
	var tok oauth.TokenResponse
	if err := json.Unmarshal(raw, &tok); err != nil || tok.TokenType != oauth.TokenTypeDPoP {
		return nil, fmt.Errorf("DPoP token: %s (%v)", raw, err)
	}
	auth := "DPoP " + tok.AccessToken
	return func(ctx context.Context, w int, c *http.Client) error {
		u := r.api(w) + gatewayScopedPath
		proof, err := key.Sign(dpopkey.NewClaims(http.MethodPost, serverURL(u), tok.AccessToken, time.Now()))
		if err != nil {
			return err
		}
		_, err = request(ctx, c, http.MethodPost, u, "", auth, http.StatusForbidden, "DPoP", proof)
		return err
	}, nil
}
