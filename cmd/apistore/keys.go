package main

import (
	"context"
	"fmt"
	"time"

	"github.com/apistore/apistore/oauth"
)

// keysRotate makes a new signing key for JWTs and retires the others,
// which stay published at the JWKS URL until the last token each signed
// has expired. Running servers sign with the new key within a minute.
func keysRotate(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("keys rotate", "Makes a new key to sign JWT access tokens and backend JWTs with; the old keys stay published at the JWKS URL "+
		"until the tokens they signed have expired, so those stay valid.", s)
	store := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	k, err := oauth.RotateSigningKey(ctx, d, time.Now())
	if err != nil {
		return err
	}
	keys, err := d.SigningKeys(ctx, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "new signing key %s; published: %d key(s)\n", k.ID, len(keys))
	for _, old := range keys {
		if !old.RetiredAt.IsZero() {
			fmt.Fprintf(s.out, "retired %s, published until %s\n", old.ID, old.PublishedUntil.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
