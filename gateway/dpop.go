package gateway

import (
	"net/http"

	"github.com/apistore/apistore/oauth"
)

// checkDPoP holds a DPoP-bound token (RFC 9449 §7) to its key: it must
// come as Authorization: DPoP, with a fresh proof of this call signed by
// the key it is bound to. A bearer token must not claim the DPoP scheme.
func (g *Gateway) checkDPoP(w http.ResponseWriter, r *http.Request, info *oauth.TokenInfo, token string, dpopScheme bool) *Refusal {
	switch {
	case info.JKT == "" && !dpopScheme:
		return nil
	case info.JKT == "":
		return invalidToken("the access token is not DPoP-bound: send it as Authorization: Bearer")
	case !dpopScheme:
		return dpopRefusal("invalid_token", "the access token is DPoP-bound: send it as Authorization: DPoP, with a DPoP proof")
	}
	if nonce := g.oauth.DPoPNonce(); nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	req := &oauth.DPoPRequest{Proofs: r.Header.Values("DPoP"), Method: r.Method, URL: g.baseURL(r) + r.URL.EscapedPath()}
	oerr := g.oauth.CheckBoundToken(r.Context(), req, token, info.JKT)
	switch {
	case oerr == nil:
		return nil
	case oerr.Code == oauth.ErrCodeServerError:
		return internalError()
	default:
		return dpopRefusal(oerr.Code, oerr.Description)
	}
}

// requestBaseURL is the request's scheme and Host header: Config.BaseURL
// when none is set.
func requestBaseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// dpopRefusal refuses a DPoP-bound token's call with 401 and a DPoP
// challenge (RFC 9449 §7.1): invalid_token, invalid_dpop_proof, or
// use_dpop_nonce (with the nonce in DPoP-Nonce).
func dpopRefusal(code, why string) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Code: CodeInvalidCredentials, Message: "Invalid Credentials",
		Description: why, BearerError: code, dpop: true}
}
