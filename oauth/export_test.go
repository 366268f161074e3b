package oauth

// OpenKeptAnswer exposes openAnswer to the tests: the response sealed in a
// kept answer, opened with the key derived from secret.
func OpenKeptAnswer(secret string, sealed []byte) (*TokenResponse, error) {
	a, err := openAnswer(secret, sealed)
	if err != nil {
		return nil, err
	}
	return &a.Response, nil
}
