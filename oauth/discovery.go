package oauth

// Metadata is the authorization server metadata of RFC 8414 §2.
type Metadata struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	ScopesSupported                  []string `json:"scopes_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ResponseModesSupported           []string `json:"response_modes_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported    []string `json:"code_challenge_methods_supported"`
	// AuthorizationResponseIss says that authorization responses carry iss (RFC 9207 §3).
	AuthorizationResponseIss bool `json:"authorization_response_iss_parameter_supported"`
	// JWKSURI is where the keys verifying the server's JWTs are (RFC 8414
	// §2), when it signs any.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// TLSClientCertificateBoundAccessTokens says that access tokens are
	// bound to the client certificate presented at /token (RFC 8705 §3.3).
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// DPoPSigningAlgValuesSupported lists the DPoP proof algorithms
	// accepted (RFC 9449 §5.1); left out when DPoP is not offered.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
}

// JWKSPath is the path of the JWK Set of the server's signing keys, under
// its issuer.
const JWKSPath = "/.well-known/jwks.json"

// Metadata describes this server at issuer (RFC 8414 §2); in strict mode
// without the password and implicit grants, and with S256 as the only PKCE
// method.
func (s *Server) Metadata(issuer string, scopes []string) *Metadata {
	m := newMetadata(issuer, scopes)
	if s.jwt.keys != nil {
		m.JWKSURI = issuer + JWKSPath
	}
	if s.proofs != nil {
		m.DPoPSigningAlgValuesSupported = DPoPAlgorithmNames()
	}
	if s.strict {
		m.ResponseTypesSupported = []string{ResponseCode}
		m.ResponseModesSupported = []string{"query"}
		m.GrantTypesSupported = s.GrantTypes()
		m.CodeChallengeMethodsSupported = []string{PKCES256}
	}
	s.addMutualTLS(m)
	return m
}

// newMetadata describes the server at issuer (its base URL, no trailing
// slash) offering the given registered scopes (RFC 8414 §2).
func newMetadata(issuer string, scopes []string) *Metadata {
	return &Metadata{
		Issuer:                           issuer,
		AuthorizationEndpoint:            issuer + "/authorize",
		TokenEndpoint:                    issuer + "/token",
		RevocationEndpoint:               issuer + "/revoke",
		IntrospectionEndpoint:            issuer + "/introspect",
		ScopesSupported:                  append([]string{DefaultScope}, scopes...),
		ResponseTypesSupported:           []string{ResponseCode, ResponseToken},
		ResponseModesSupported:           []string{"query", "fragment"},
		GrantTypesSupported:              AllGrantTypes,
		TokenEndpointAuthMethods:         []string{"client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethods:    []string{"client_secret_basic", "client_secret_post", "none"}, // none: implicit tokens, by client_id
		IntrospectionEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		CodeChallengeMethodsSupported:    []string{PKCES256, PKCEPlain},
		AuthorizationResponseIss:         true,
	}
}
