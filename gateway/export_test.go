package gateway

// StandardTransport returns cfg with every backend call sent through
// http.Transport, for tests that compare it with backendTransport.
func StandardTransport(cfg Config) Config {
	cfg.standardTransport = true
	return cfg
}
