package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apistore/apistore/handlers"
	"github.com/apistore/apistore/oauth"
	"github.com/apistore/apistore/portal"
)

// defaultStoreURL is where the store is when serve runs with its defaults.
const defaultStoreURL = "https://localhost:9443"

// userResetLink makes a password reset link for a user and prints it, for
// an administrator to hand over when the store sends no email (or the
// account has no address).
func userResetLink(ctx context.Context, args []string, s stdio) error {
	fs := newFlags("user reset-link", "Prints a link that sets a new password for a user, once, within --validity.", s)
	store := addStoreFlags(fs)
	username := fs.String("username", "", "the user's name (required)")
	validity := fs.Duration("validity", 24*time.Hour, "how long the link works (1m to 168h)")
	var base string
	fs.Func("store-public-url", "base URL clients reach the store at, as serve's flag (default "+defaultStoreURL+")",
		func(v string) (err error) { base, err = parsePublicURL(v, true); return err })
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usageError("--username is required")
	}
	if *validity < time.Minute || *validity > 7*24*time.Hour {
		return usageError(fmt.Sprintf("--validity %v: give 1m to 168h", *validity))
	}
	d, err := store.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	u, err := d.UserAccount(ctx, *username)
	if errors.Is(err, portal.ErrNotFound) {
		return fmt.Errorf("no user %q", *username)
	} else if err != nil {
		return err
	}
	token, now := oauth.NewSecret(), time.Now()
	if err := d.CreatePasswordReset(ctx, oauth.HashOf(token), u.ID, now, now.Add(*validity)); err != nil {
		return err
	}
	auditCommand(ctx, d, s, portal.AuditResetLinkMade, u.Username, "", fmt.Sprintf("apistore user reset-link, valid %v", *validity))
	if base == "" {
		base = defaultStoreURL
		fmt.Fprintf(s.err, "apistore: the link names %s; give --store-public-url (or APISTORE_STORE_PUBLIC_URL) when users reach the store elsewhere\n", base)
	}
	fmt.Fprintln(s.out, handlers.ResetLink(base, token))
	fmt.Fprintf(s.err, "apistore: it sets a new password for %s once, until %s; using it logs out every session of the account\n",
		u.Username, now.Add(*validity).UTC().Format("2006-01-02 15:04 UTC"))
	return nil
}
